#!/usr/bin/env bash
# Records the public surface of Interconnect.Imc that is not yet in its PublicAPI files: builds the project, takes every
# symbol the analyzer reports as undeclared (RS0016) and adds it to PublicAPI.Unshipped.txt, sorted. Review the diff:
# that is the point of tracking. Lines for removed API (RS0017) are reported, not deleted: remove them by hand.
# Usage: tests/packaging/update-public-api.sh
set -euo pipefail
cd "$(dirname "$0")/../../src/Interconnect.Imc"
log=$(mktemp)
trap 'rm -f "$log"' EXIT
# --no-incremental: the analyzer runs on every build, so every undeclared symbol is reported.
dotnet build --no-incremental -v:q -clp:NoSummary -p:TreatWarningsAsErrors=false -warnaserror:RS0016 >"$log" 2>&1 || true
added=$(grep -o "error RS0016: Symbol '.*' is not part of the declared public API" "$log" \
    | sed -e "s/^error RS0016: Symbol '//" -e "s/' is not part of the declared public API$//" | sort -u || true)
if [ -n "$added" ]; then
    { grep -v '^#nullable enable$' PublicAPI.Unshipped.txt || true; echo "$added"; } | grep -v '^$' | LC_ALL=C sort -u >"$log.new"
    { echo '#nullable enable'; cat "$log.new"; } >PublicAPI.Unshipped.txt
    rm -f "$log.new"
    echo "added $(echo "$added" | wc -l) symbol(s) to src/Interconnect.Imc/PublicAPI.Unshipped.txt"
else
    echo "no undeclared public symbols"
fi
if grep -q "RS0017" "$log"; then
    echo "declared but no longer public (remove these lines by hand):"
    grep -o "RS0017: .*" "$log" | sort -u
fi
if grep -E "error (CS|RS)" "$log" | grep -v RS0016 | grep -q .; then
    echo "other build errors:"; grep -E "error (CS|RS)" "$log" | grep -v RS0016 | sort -u; exit 1
fi
