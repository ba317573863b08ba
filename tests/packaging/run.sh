#!/usr/bin/env bash
# The consumer test (issue 15): proves the packages are complete, not just that they pack.
#
#  1. packs Interconnect.Imc, Interconnect.Imc.Streams and the four tool packages into a temporary folder;
#  2. inspects each package: its nuspec (id, version, licence, readme, description, authors, tags, repository, no
#     dependency on an Interconnect.Driver package) and its files (the driver inside Interconnect.Imc, the tool's
#     command, the symbols package);
#  3. in a temporary directory outside the repository, makes a fresh console project whose only reference is
#     Interconnect.Imc from that folder (a nuget.config lists the folder and the normal nuget.org feed), builds it,
#     and runs it as two processes on two emulated hosts (IMC_HOST=alpha / beta, IMC_AUTO_INIT=1, a unique IMC_ROOT)
#     that share a coherent region and a lock set and check each other's data;
#  4. installs the tool packages with `dotnet tool install --tool-path` from the folder, brings a third host up with
#     imc_init, checks that `imcs --json` parses and shows the region, the lock set and the hosts, lets the two
#     processes exit, streams a file from host alpha to host gamma through imccat, and removes the cluster with
#     `imcctl destroy`;
#  5. removes everything it made.
#
# Usage: tests/packaging/run.sh [RESULTS_FILE]
# Prints one line per check and "packaging: N passed, N failed"; writes "N passed, N failed" to RESULTS_FILE if
# given (.ci/run adds it to its totals). Exit 0 only when every check passed. Needs dotnet, unzip and jq.
set -uo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
results_file=${1:-}
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1

passed=0
failed=0
pass() { passed=$((passed + 1)); echo "  PASS $1"; }
fail() { failed=$((failed + 1)); echo "  FAIL $1: $2" >&2; }

finish() {
    echo "packaging: $passed passed, $failed failed"
    if [ -n "$results_file" ]; then
        echo "$passed passed, $failed failed" >"$results_file"
    fi
    [ "$failed" -eq 0 ]
    exit $?
}

for tool in dotnet unzip jq; do
    if ! command -v "$tool" >/dev/null 2>&1; then
        fail "prerequisites" "$tool is not installed (./test.sh installs it)"
        finish
    fi
done

work=$(mktemp -d "${TMPDIR:-/tmp}/imc-consumer.XXXXXX")
# The cluster lives in shared memory when there is some, as the library's default does.
if [ -d /dev/shm ]; then imc_root=$(mktemp -d /dev/shm/imc-consumer.XXXXXX); else imc_root="$work/imc-root"; mkdir -p "$imc_root"; fi
pids=()
cleanup() {
    for pid in "${pids[@]}"; do
        kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null
    done
    rm -rf "$work" "$imc_root"
}
trap cleanup EXIT

case "$work/" in
    "$repo"/*) fail "temporary directory" "$work is inside the repository"; finish ;;
esac

version=$(sed -n 's:.*<Version>\(.*\)</Version>.*:\1:p' "$repo/Directory.Build.props" | head -n 1)
packages="$work/packages"
library=Interconnect.Imc
streams=Interconnect.Imc.Streams
# package id -> command name
declare -A tools=([Interconnect.ImcInit]=imc_init [Interconnect.Imcs]=imcs [Interconnect.ImcCtl]=imcctl [Interconnect.ImcCat]=imccat)

echo "== packaging: pack $library and the tools ($version) into $packages"
pack_ok=1
for id in "$library" "$streams" "${!tools[@]}"; do
    if ! dotnet pack "$repo/src/$id" -o "$packages" -v:q -clp:NoSummary >"$work/pack-$id.log" 2>&1; then
        pack_ok=0
        cat "$work/pack-$id.log" >&2
        fail "pack $id" "dotnet pack failed"
    fi
done
if [ $pack_ok -eq 1 ]; then
    pass "pack: dotnet pack made the packages"
fi
stray=$(cd "$packages" 2>/dev/null && ls | grep -v -E "^(Interconnect\.Imc|Interconnect\.Imc\.Streams|Interconnect\.ImcInit|Interconnect\.Imcs|Interconnect\.ImcCtl|Interconnect\.ImcCat)\.$version\.s?nupkg$")
if [ -n "$stray" ]; then
    fail "pack" "unexpected files in the package folder: $stray"
fi

echo "== packaging: inspect each package's nuspec and files"
# inspect ID: every reason the package is incomplete, one a line; nothing when it is complete.
inspect() {
    local id=$1 nupkg="$packages/$1.$version.nupkg" snupkg="$packages/$1.$version.snupkg"
    if [ ! -f "$nupkg" ]; then echo "no $nupkg"; return; fi
    if [ ! -f "$snupkg" ]; then echo "no symbols package $snupkg"; fi
    local nuspec files symbols
    nuspec=$(unzip -p "$nupkg" "$id.nuspec" | tr -d '\r')
    files=$(unzip -Z1 "$nupkg")
    symbols=$(unzip -Z1 "$snupkg" 2>/dev/null)
    has() { grep -q -E "$1" <<<"$nuspec" || echo "nuspec lacks $2"; }
    has "<id>$id</id>" "id $id"
    has "<version>$version</version>" "version $version"
    has '<license type="expression">MIT</license>' "the MIT licence expression"
    has '<readme>README\.md</readme>' "a readme"
    has '<description>.{40,}</description>' "a description"
    has '<authors>[^<]+</authors>' "authors"
    has '<tags>[^<]+</tags>' "tags"
    has '<repository type="git"[^>]* commit="[0-9a-f]{40}"' "repository metadata (type git and commit)"
    if grep -q '<description>Package Description</description>' <<<"$nuspec"; then echo "the SDK's default description"; fi
    if grep -q -i 'dependency id="Interconnect\.Driver"' <<<"$nuspec"; then echo "a dependency on a package Interconnect.Driver"; fi
    if ! grep -q -x 'README.md' <<<"$files" || [ "$(unzip -p "$nupkg" README.md | wc -c)" -lt 200 ]; then
        echo "no README.md with content in the package"
    fi
    local needed=() needed_symbols=()
    if [ "$id" = "$library" ]; then
        needed=(lib/net10.0/Interconnect.Imc.dll lib/net10.0/Interconnect.Imc.xml lib/net10.0/Interconnect.Driver.dll lib/net10.0/Interconnect.Driver.xml)
        needed_symbols=(lib/net10.0/Interconnect.Imc.pdb lib/net10.0/Interconnect.Driver.pdb)
        if ! grep -q -E "<dependency id=\"Microsoft.Extensions.Logging.Abstractions\"" <<<"$nuspec"; then
            echo "no dependency on Microsoft.Extensions.Logging.Abstractions (the driver and the API need it)"
        fi
        if grep -q '<packageType name="DotnetTool"' <<<"$nuspec"; then echo "marked as a tool"; fi
    elif [ "$id" = "$streams" ]; then
        needed=(lib/net10.0/Interconnect.Imc.Streams.dll lib/net10.0/Interconnect.Imc.Streams.xml)
        needed_symbols=(lib/net10.0/Interconnect.Imc.Streams.pdb)
        if ! grep -q -E "<dependency id=\"Interconnect.Imc\" version=\"\[?$version" <<<"$nuspec"; then
            echo "no dependency on the package Interconnect.Imc $version"
        fi
        if grep -q '<packageType name="DotnetTool"' <<<"$nuspec"; then echo "marked as a tool"; fi
    else
        local command=${tools[$id]}
        needed=(tools/net10.0/any/DotnetToolSettings.xml "tools/net10.0/any/$command.dll" tools/net10.0/any/Interconnect.Driver.dll)
        needed_symbols=("tools/net10.0/any/$command.pdb")
        has '<packageType name="DotnetTool" />' "package type DotnetTool"
        if ! unzip -p "$nupkg" tools/net10.0/any/DotnetToolSettings.xml | grep -q "<Command Name=\"$command\" EntryPoint=\"$command.dll\""; then
            echo "DotnetToolSettings.xml does not name the command $command"
        fi
        if grep -q '<dependency ' <<<"$nuspec"; then echo "a tool package with dependencies"; fi
    fi
    local f
    for f in "${needed[@]}"; do grep -q -x -F "$f" <<<"$files" || echo "no $f in the package"; done
    for f in "${needed_symbols[@]}"; do grep -q -x -F "$f" <<<"$symbols" || echo "no $f in the symbols package"; done
}
for id in "$library" "$streams" "${!tools[@]}"; do
    problems=$(inspect "$id")
    if [ -z "$problems" ]; then
        pass "inspect $id: licence, readme, description, authors, tags, repository, files, symbols"
    else
        fail "inspect $id" "$(tr '\n' ';' <<<"$problems")"
    fi
done

echo "== packaging: a fresh console project outside the repository, referencing $library only"
# Packages restored here go to a cache of this run's own, so a package of the same version restored earlier (from
# another build of this repository) is never taken instead of the one just packed.
export NUGET_PACKAGES="$work/nuget-cache"
cat >"$work/nuget.config" <<EOF
<?xml version="1.0" encoding="utf-8"?>
<configuration>
  <packageSources>
    <add key="interconnect-local" value="$packages" />
    <add key="nuget.org" value="https://api.nuget.org/v3/index.json" protocolVersion="3" />
  </packageSources>
  <!-- This project's packages come from the local folder only, everything else from nuget.org: a package of the same
       id on a public feed is never taken instead. -->
  <packageSourceMapping>
    <packageSource key="interconnect-local">
      <package pattern="Interconnect.*" />
    </packageSource>
    <packageSource key="nuget.org">
      <package pattern="*" />
    </packageSource>
  </packageSourceMapping>
</configuration>
EOF
consumer="$work/consumer"
consumer_dll="$consumer/bin/Debug/net10.0/Consumer.dll"
if (cd "$work" && dotnet new console --name Consumer --output "$consumer" --framework net10.0 --no-restore >"$work/new.log" 2>&1) \
    && cp "$repo/tests/packaging/consumer/Program.cs" "$consumer/Program.cs" \
    && (cd "$consumer" && dotnet add package "$library" --version "$version" >"$work/add.log" 2>&1) \
    && (cd "$consumer" && dotnet add package "$streams" --version "$version" >>"$work/add.log" 2>&1) \
    && (cd "$consumer" && dotnet build >"$work/build.log" 2>&1); then
    references=$(grep -c '<PackageReference ' "$consumer/Consumer.csproj")
    project_refs=$(grep -c '<ProjectReference ' "$consumer/Consumer.csproj")
    driver_package=$(jq -r '.libraries | keys[] | select(ascii_downcase | startswith("interconnect.driver/"))' "$consumer/obj/project.assets.json")
    if [ "$references" -ne 2 ] || [ "$project_refs" -ne 0 ] || [ -n "$driver_package" ]; then
        fail "consumer build" "expected two package references ($library, $streams) and no Interconnect.Driver package (references $references, project references $project_refs, driver package '$driver_package')"
    elif [ ! -f "$consumer/bin/Debug/net10.0/Interconnect.Driver.dll" ]; then
        fail "consumer build" "the driver assembly did not reach the consumer's output"
    else
        pass "consumer build: dotnet new console + dotnet add package $library and $streams $version (local feed by packageSourceMapping) + dotnet build"
    fi
else
    cat "$work"/new.log "$work"/add.log "$work"/build.log 2>/dev/null | tail -n 40 >&2
    fail "consumer build" "dotnet new / add package / build failed"
fi

echo "== packaging: the consumer as two processes on hosts alpha and beta (IMC_ROOT=$imc_root)"
export IMC_ROOT="$imc_root" IMC_CLUSTER=consumer IMC_AUTO_INIT=1
release="$work/release"
run_ok=0
if [ -f "$consumer_dll" ]; then
    for host in alpha beta; do
        IMC_HOST=$host timeout 180 dotnet "$consumer_dll" "$host" "$release" >"$work/$host.out" 2>"$work/$host.err" &
        pids+=($!)
    done
    # Both print "checked" and then hold the region until $release exists; give them 90 s.
    for _ in $(seq 1 900); do
        if grep -q checked "$work/alpha.out" && grep -q checked "$work/beta.out"; then run_ok=1; break; fi
        if ! kill -0 "${pids[0]}" 2>/dev/null || ! kill -0 "${pids[1]}" 2>/dev/null; then break; fi
        sleep 0.1
    done
    if [ $run_ok -eq 1 ]; then
        pass "two hosts: $(head -n 1 "$work/alpha.out"); $(head -n 1 "$work/beta.out")"
    else
        fail "two hosts" "the processes did not both check the shared data: alpha: $(cat "$work/alpha.out" "$work/alpha.err" | tr '\n' ' ') beta: $(cat "$work/beta.out" "$work/beta.err" | tr '\n' ' ')"
    fi
else
    fail "two hosts" "no consumer was built"
fi

echo "== packaging: the tools from their packages (dotnet tool install --tool-path)"
tool_path="$work/tools"
tools_ok=1
for id in "${!tools[@]}"; do
    # From $work, whose nuget.config maps Interconnect.* to the folder (NuGet refuses --add-source beside a mapping).
    if ! (cd "$work" && dotnet tool install "$id" --version "$version" --tool-path "$tool_path" >"$work/tool-$id.log" 2>&1) \
        || [ ! -x "$tool_path/${tools[$id]}" ]; then
        tools_ok=0
        cat "$work/tool-$id.log" >&2
        fail "tool install $id" "dotnet tool install did not put ${tools[$id]} in $tool_path"
    fi
done
[ $tools_ok -eq 1 ] && pass "tool install: imc_init, imcs, imcctl, imccat in $tool_path"

if [ -x "$tool_path/imc_init" ] && "$tool_path/imc_init" --host gamma >"$work/imc_init.log" 2>&1; then
    pass "imc_init --host gamma (from its package)"
else
    fail "imc_init" "$(cat "$work/imc_init.log" 2>/dev/null)"
fi

if [ -x "$tool_path/imcs" ] && "$tool_path/imcs" --json >"$work/imcs.json" 2>"$work/imcs.err"; then
    # The region (key 4711) with both hosts attached, the lock set (key 4712) and the three hosts up.
    if jq -e '
        (.regions | map(select(.key == 4711)) | length == 1)
        and (.regions[] | select(.key == 4711) | ([.receive[].host] | sort) == ["alpha", "beta"] and .coherent == true)
        and (.lockSets | map(select(.key == 4712)) | length == 1)
        and ([.hosts[] | select(.state == "up") | .name] | sort) == ["alpha", "beta", "gamma"]' "$work/imcs.json" >/dev/null; then
        pass "imcs --json parses and shows region 4711 received by alpha and beta, lock set 4712, hosts alpha beta gamma up"
    else
        fail "imcs --json" "the document does not show the region, the lock set and the hosts: $(head -c 2000 "$work/imcs.json")"
    fi
else
    fail "imcs --json" "$(cat "$work/imcs.err" 2>/dev/null)"
fi

# Let the two processes go; each exits 0 only if everything it checked held.
touch "$release"
exits=()
for pid in "${pids[@]}"; do
    wait "$pid"
    exits+=($?)
done
pids=()
if [ $run_ok -eq 1 ] && [ "${exits[*]}" = "0 0" ]; then
    pass "two hosts exited 0"
elif [ $run_ok -eq 1 ]; then
    fail "two hosts exit" "exit codes ${exits[*]}: $(cat "$work/alpha.err" "$work/beta.err" | tr '\n' ' ')"
fi

# A small stream through imccat (the streams library inside the tool): alpha sends, gamma listens.
head -c 3000000 /dev/urandom >"$work/stream.in"
if [ -x "$tool_path/imccat" ]; then
    IMC_HOST=gamma timeout 120 "$tool_path/imccat" listen 5001 --timeout 60 >"$work/stream.out" 2>"$work/imccat-listen.err" &
    listener=$!
    pids+=($listener)
    IMC_HOST=alpha timeout 120 "$tool_path/imccat" send 5001 gamma --timeout 60 <"$work/stream.in" 2>"$work/imccat-send.err"
    send_rc=$?
    wait "$listener"
    listen_rc=$?
    pids=()
    if [ $send_rc -eq 0 ] && [ $listen_rc -eq 0 ] && cmp -s "$work/stream.in" "$work/stream.out"; then
        pass "imccat: 3 MB from alpha to gamma arrived whole (from its package)"
    else
        fail "imccat" "send exit $send_rc, listen exit $listen_rc: $(cat "$work/imccat-send.err" "$work/imccat-listen.err" | tr '\n' ' ')"
    fi
else
    fail "imccat" "not installed"
fi

if [ -x "$tool_path/imcctl" ] && "$tool_path/imcctl" destroy >"$work/imcctl.log" 2>&1 && [ ! -e "$imc_root/consumer" ]; then
    pass "imcctl destroy removed the cluster"
else
    fail "imcctl destroy" "$(cat "$work/imcctl.log" 2>/dev/null)"
fi

finish
