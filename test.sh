#!/usr/bin/env bash
# ./test.sh: every test of the repository, on a fresh machine of this project's kind (the .NET 10 SDK, Debian).
#
#  1. Installs what the tests use and the machine lacks, when it can (root and apt-get); otherwise it stops at once
#     with one line naming the command to run.
#  2. Builds native/ (make -C native): libimc.so for the C tests, the NativeAOT commands, the latency floor.
#  3. Runs dotnet test Interconnect.sln, each test with a hang limit (--blame-hang-timeout: a test still running then
#     is dumped and its test host ended), a TRX file per test project in artifacts/test-results/.
#  4. Counts each test's outcome in those files (UnitTestResult outcome, test by test: the TRX Counters notExecuted
#     attribute is always 0), lists the skipped and failed tests, and ends with
#     "tests: N passed, N failed, N skipped"; it exits non-zero on any failure.
#
# Arguments are passed to dotnet test (./test.sh --filter TestCategory=AsAnotherUser). Besides the console, it leaves
# artifacts/test.log, and in artifacts/test-results/ outcomes.tsv (outcome, test, message: one line a test) and
# summary.txt ("passed failed skipped"), which .ci/run reads.
set -uo pipefail
cd "$(dirname "$0")"
export DOTNET_CLI_TELEMETRY_OPTOUT=1 DOTNET_NOLOGO=1 DOTNET_SKIP_FIRST_TIME_EXPERIENCE=1
results=artifacts/test-results

if ! command -v dotnet >/dev/null 2>&1; then
    echo "test.sh: the .NET 10 SDK (dotnet) is missing: install it (it is part of this machine kind), then run ./test.sh" >&2
    exit 2
fi

# What the tests use beyond the SDK. setpriv (util-linux) runs a test peer as another user; gcc and make build
# native/; unzip and jq let the consumer test read the packages and imcs --json. Across machines
# (tests/Interconnect.Machines): ip (iproute2), nsenter, unshare and findmnt (util-linux) make the simulated machines,
# etcd (etcd-server) is their directory, libucp.so.0 (libucx0) their data path and ucx_perftest (ucx-utils) its
# yardstick.
missing=()
{ command -v setpriv && command -v nsenter && command -v unshare && command -v findmnt; } >/dev/null 2>&1 || missing+=(util-linux)
command -v gcc >/dev/null 2>&1 || missing+=(gcc)
command -v make >/dev/null 2>&1 || missing+=(make)
command -v unzip >/dev/null 2>&1 || missing+=(unzip)
command -v jq >/dev/null 2>&1 || missing+=(jq)
command -v ip >/dev/null 2>&1 || missing+=(iproute2)
command -v etcd >/dev/null 2>&1 || missing+=(etcd-server)
{ ldconfig -p 2>/dev/null || /sbin/ldconfig -p 2>/dev/null; } | grep -q 'libucp\.so\.0 ' || missing+=(libucx0)
command -v ucx_perftest >/dev/null 2>&1 || missing+=(ucx-utils)
if [ ${#missing[@]} -gt 0 ]; then
    if [ "$(id -u)" -ne 0 ] || ! command -v apt-get >/dev/null 2>&1; then
        if command -v apt-get >/dev/null 2>&1; then
            echo "test.sh: the tests need packages this machine lacks; run: sudo apt-get install -y ${missing[*]} (or sudo ./test.sh, which installs them)" >&2
        else
            echo "test.sh: the tests need these Debian packages (or your system's equivalents), which this machine lacks: ${missing[*]}" >&2
        fi
        exit 2
    fi
    echo "== test.sh: installing ${missing[*]}"
    # etcd-server's install starts a system etcd on 127.0.0.1:2379 where services can start. The tests run their own
    # (inside a namespace), so nothing is to be started: policy-rc.d answering 101 tells package scripts so, for the
    # time of this install only (a machine that has one already keeps it).
    policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        policy=/usr/sbin/policy-rc.d
        printf '#!/bin/sh\nexit 101\n' > "$policy" && chmod +x "$policy"
    fi
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq "${missing[@]}"
    install_rc=$?
    [ -n "$policy" ] && rm -f "$policy"
    # Should it have started anyway, stop it: a stray etcd would answer anyone who reaches for the default port.
    if [[ " ${missing[*]} " == *" etcd-server "* ]] && command -v systemctl >/dev/null 2>&1 \
        && systemctl is-active --quiet etcd 2>/dev/null; then
        systemctl stop etcd && systemctl disable --quiet etcd
    fi
    if [ $install_rc -ne 0 ]; then
        echo "test.sh: apt-get could not install ${missing[*]} (exit $install_rc)" >&2
        exit 2
    fi
fi

mkdir -p artifacts
rm -rf "$results"
mkdir -p "$results"

echo "== test.sh: make -C native"
make -C native
native_rc=$?
if [ $native_rc -ne 0 ]; then
    echo "test.sh: building native/ failed (exit $native_rc)" >&2
fi

# A test still running after 10 minutes is taken for hung (the longest takes about a minute): a mini dump of the test host and
# its children is written beside the results, and the test host is ended, which fails the run. The whole run is bounded
# too (an hour: a full run takes about 15 minutes on two cores).
echo "== test.sh: dotnet test Interconnect.sln --blame-hang-timeout 10m $*"
timeout --kill-after=60 3600 dotnet test Interconnect.sln --blame-hang-timeout 10m --blame-hang-dump-type mini \
    --results-directory "$PWD/$results" "$@" 2>&1 | tee artifacts/test.log
test_rc=${PIPESTATUS[0]}

# Each TRX file, test by test: its outcome, its full name (class and test) and the first line of its message. Two
# failures have no test result of their own, only a RunInfo error, and each is counted here as one failed test: a
# fixture whose one-time teardown failed (a leaked namespace, a process left running), named after the fixture; and a
# test run aborted (its test host crashed, or was ended by the hang limit), named after the project.
outcomes() {
    awk 'BEGIN { RS = "<" }
        function attr(name,    m) { if (match($0, " " name "=\"[^\"]*\"")) { m = substr($0, RSTART, RLENGTH); sub(/^[^"]*"/, "", m); sub(/"$/, "", m); return m } return "" }
        function text(    t) { t = $0; sub(/^[^>]*>/, "", t); sub(/\n.*/, "", t); gsub(/\t/, " ", t);
                               gsub(/&lt;/, "<", t); gsub(/&gt;/, ">", t); gsub(/&quot;/, "\"", t); gsub(/&apos;/, "\047", t); gsub(/&amp;/, "\\&", t); return t }
        /^UnitTestResult / { n++; id[n] = attr("testId"); name[n] = attr("testName"); outcome[n] = attr("outcome"); message[n] = ""; current = n; next }
        /^\/UnitTestResult>/ { current = 0; next }
        /^Message>/ { if (current && message[current] == "") message[current] = text(); next }
        /^UnitTest / { test = attr("id"); next }
        /^TestMethod / { class[test] = attr("className"); next }
        /^RunInfo / { runinfo = attr("outcome"); next }
        /^Text>/ {
            t = text()
            if (runinfo != "Error") next
            if (t ~ /^The active test run was aborted/) { aborted[++a] = t; next }
            if (t ~ /^TearDown failed for test fixture /) { sub(/^TearDown failed for test fixture /, "", t); fixtures[++f] = t; why[f] = "" }
            else if (f && why[f] == "") why[f] = t
            next
        }
        END {
            for (i = 1; i <= n; i++) printf "%s\t%s.%s\t%s\n", outcome[i], class[id[i]], name[i], message[i]
            for (i = 1; i <= f; i++) printf "Failed\t%s (one-time teardown)\t%s\n", fixtures[i], why[i] == "" ? "its one-time teardown failed" : why[i]
            for (i = 1; i <= a; i++) printf "Failed\t%s (test run aborted)\t%s: the test then running (hung past the limit, or crashed) is named in artifacts/test.log; the tests after it did not run\n", project, aborted[i]
        }' project="$(basename "$1" .trx)" "$1"
}
: > "$results/outcomes.tsv"
files=0
for trx in "$results"/*.trx; do
    [ -f "$trx" ] || continue
    files=$((files + 1))
    outcomes "$trx" >> "$results/outcomes.tsv"
done

# Passed; failed (Failed, Error, Timeout, Aborted, NotRunnable); skipped (every other outcome: NotExecuted is what
# NUnit's Ignore, Inconclusive, Warn and Explicit become, and the rest are never a pass).
passed=$(awk -F'\t' '$1 == "Passed" || $1 == "PassedButRunAborted"' "$results/outcomes.tsv" | wc -l)
failed=$(awk -F'\t' '$1 ~ /^(Failed|Error|Timeout|Aborted|NotRunnable)$/' "$results/outcomes.tsv" | wc -l)
skipped=$(awk -F'\t' '$1 !~ /^(Passed|PassedButRunAborted|Failed|Error|Timeout|Aborted|NotRunnable)$/' "$results/outcomes.tsv" | wc -l)

if [ "$skipped" -gt 0 ]; then
    echo "== skipped ($skipped):"
    awk -F'\t' '$1 !~ /^(Passed|PassedButRunAborted|Failed|Error|Timeout|Aborted|NotRunnable)$/ { print "  " $2 ": " $3 }' "$results/outcomes.tsv"
fi
if [ "$failed" -gt 0 ]; then
    echo "== failed ($failed):"
    awk -F'\t' '$1 ~ /^(Failed|Error|Timeout|Aborted|NotRunnable)$/ { print "  " $2 ": " $3 }' "$results/outcomes.tsv"
fi

# What no test result shows still fails the run, counted as one failure each: native/ not built, no result written
# at all, or dotnet test failing with no failed test (a test host that crashed or hung: "Test Run Aborted").
if [ $native_rc -ne 0 ]; then
    failed=$((failed + 1))
fi
if [ $files -eq 0 ]; then
    echo "test.sh: no test results were written (the build or the test run failed before any test ran)" >&2
    failed=$((failed + 1))
elif [ $test_rc -ne 0 ] && [ "$failed" -eq 0 ]; then
    echo "test.sh: dotnet test failed (exit $test_rc) although no result says a test failed: a test run was aborted" >&2
    grep -n -B2 -A8 "Test Run Aborted\|test run was aborted\|hang\b" artifacts/test.log | tail -40 >&2
    failed=$((failed + 1))
fi

echo "$passed $failed $skipped" > "$results/summary.txt"
echo "tests: $passed passed, $failed failed, $skipped skipped"
if [ "$failed" -ne 0 ] || [ $test_rc -ne 0 ]; then
    exit 1
fi
exit 0
