#!/usr/bin/env bash
# The docs check: runs every fenced block of README.md and docs/*.md whose info string is "sh runnable" (or
# "bash runnable"; GitHub highlights it by its first word), each in a fresh `bash -euo pipefail` at the repository's
# root, with a timeout (DOCS_TIMEOUT seconds, 300 by default, or timeout=N in the info string), with IMC_ROOT set to a
# fresh temporary folder so that nothing touches /dev/shm/imc; then checks that every repository path the pages name
# in inline code exists (one more check), and ends with "docs: N passed, N failed"; exits 1 when a check failed or no
# runnable block was found. Arguments, if any, are the Markdown files to check instead.
#
#   bash tests/docs/check.sh                      # every runnable block
#   bash tests/docs/check.sh docs/commands.md     # one page's
set -uo pipefail
cd "$(dirname "$0")/../.."
root=$PWD

if [ $# -gt 0 ]; then
    pages=("$@")
else
    pages=(README.md docs/*.md)
fi

work=$(mktemp -d "${TMPDIR:-/tmp}/imc-docs.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Each runnable block becomes work/N.sh; work/N.where says "file:line timeout".
count=0
for page in "${pages[@]}"; do
    [ -f "$page" ] || { echo "docs: no such file: $page" >&2; exit 2; }
    count=$(awk -v out="$work" -v page="$page" -v n="$count" -v default="${DOCS_TIMEOUT:-300}" '
        # An opening fence: three or more backticks, then the info string (mawk has no {m,n} in patterns).
        !inblock && /^ *```/ {
            fence = $0; sub(/^[ ]*/, "", fence); match(fence, /^`+/); ticks = RLENGTH
            info = substr(fence, ticks + 1); gsub(/^[ \t]+|[ \t]+$/, "", info)
            split(info, words, /[ \t]+/)
            inblock = 1; runnable = 0; limit = default
            if ((words[1] == "sh" || words[1] == "bash") && info ~ /(^|[ \t])runnable([ \t]|$)/) {
                runnable = 1; n++
                for (i in words) if (words[i] ~ /^timeout=[0-9]+$/) { limit = substr(words[i], 9) }
                file = out "/" n ".sh"
                printf "%s:%d %d\n", page, NR, limit > (out "/" n ".where")
                close(out "/" n ".where")
            }
            next
        }
        inblock && /^ *```+[ \t]*$/ {
            closing = $0; sub(/^[ ]*/, "", closing); sub(/[ \t]*$/, "", closing)
            if (length(closing) >= ticks) { inblock = 0; if (runnable) close(file); next }
        }
        inblock && runnable { print > file }
        END { print n }
    ' "$page") || { echo "docs: could not read $page" >&2; exit 2; }
done

passed=0
failed=0
for ((i = 1; i <= count; i++)); do
    read -r where limit < "$work/$i.where"
    imc_root=$(mktemp -d "${TMPDIR:-/tmp}/imc-docs-root.XXXXXX")
    log="$work/$i.log"
    started=$(date +%s)
    # timeout puts the block in a process group of its own and signals the whole group when time is up; whatever the
    # block left running is ended the same way after it returns. Nothing is read from standard input.
    (
        cd "$root"
        unset IMC_DIRECTORY IMC_MACHINE IMC_CLUSTER IMC_HOST IMC_AUTO_INIT
        export IMC_ROOT="$imc_root"
        exec timeout --kill-after=10 "$limit" bash -euo pipefail "$work/$i.sh"
    ) < /dev/null > "$log" 2>&1 &
    pid=$!
    wait "$pid"
    rc=$?
    kill -TERM -- "-$pid" 2>/dev/null
    rm -rf "$imc_root"
    took=$(( $(date +%s) - started ))
    if [ "$rc" -eq 0 ]; then
        passed=$((passed + 1))
        echo "docs: ok     $where (${took} s)"
    else
        failed=$((failed + 1))
        if [ "$rc" -eq 124 ] || [ "$rc" -eq 137 ]; then
            echo "docs: FAILED $where: still running after ${limit} s (exit $rc)"
        else
            echo "docs: FAILED $where: exit $rc after ${took} s"
        fi
        echo "---- the block:"
        sed 's/^/    /' "$work/$i.sh"
        echo "---- its output (last 40 lines):"
        tail -n 40 "$log" | sed 's/^/    /'
        echo "----"
    fi
done

# Every repository path the pages name in inline code (src/, tests/, examples/, bench/, native/, docs/) exists; what
# a build makes (native/bin, native/lib, native/build, bin/ and obj/ folders) and patterns with * are left out.
missing=()
checked=0
while read -r path; do
    checked=$((checked + 1))
    [ -e "$path" ] || missing+=("$path")
done < <(cat "${pages[@]}" | grep -o '`[^`]*`' | tr -d '`' | tr ' ' '\n' \
    | grep -E '^(src|tests|examples|bench|native|docs)/' | sed 's/[),.:;]*$//' \
    | grep -v -E '\*|^native/(bin|lib|build)/|/(bin|obj)/' | sort -u)
if [ ${#missing[@]} -eq 0 ]; then
    passed=$((passed + 1))
    echo "docs: ok     every path named in inline code exists ($checked checked)"
else
    failed=$((failed + 1))
    echo "docs: FAILED paths named in inline code that do not exist: ${missing[*]}"
fi

if [ "$count" -eq 0 ]; then
    echo "docs: no runnable block found in ${pages[*]}" >&2
    failed=$((failed + 1))
fi
echo "docs: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
