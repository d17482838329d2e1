#!/bin/sh
# The whole test suite under AddressSanitizer + UndefinedBehaviorSanitizer
# (with LeakSanitizer), in its own build folder (default build-asan).
# Any sanitizer report fails: the sanitizers halt on the first error (exit
# code != 0, so the test fails) and the test log is searched for reports as
# well. Leaks inside the OpenCL runtimes are suppressed by tests/lsan.supp
# (documented there); leaks in our code are not.
# Usage: tests/sanitize_check.sh [BUILD_DIR]   (from anywhere; needs clang or gcc)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
B=${1:-$ROOT/build-asan}
cd "$ROOT"
# absolute: LD_PRELOAD below is read in each test's own working folder
case "$B" in /*) ;; *) B=$ROOT/$B ;; esac
if [ ! -f "$B/build.ninja" ]; then
    # clang (Debian: clang libclang-rt-14-dev): gcc's -O3 with the sanitizers
    # gives false -Wformat-truncation warnings, errors with werror=true, so
    # without clang the build goes on without werror.
    if [ -z "${CC:-}" ] && command -v clang > /dev/null; then CC=clang; fi
    extra=
    case "$(basename "${CC:-cc}")" in clang*) ;; *) extra=-Dwerror=false ;; esac
    CC=${CC:-cc} meson setup "$B" -Db_sanitize=address,undefined -Db_lundef=false $extra
fi
ninja -C "$B"
# dlclose() a no-op (tests/keep_loaded.c): leaks in unloaded driver modules keep their library's name
${CC:-cc} -shared -fPIC -o "$B/keep_loaded.so" "$ROOT/tests/keep_loaded.c"
LD_PRELOAD=$B/keep_loaded.so
export LD_PRELOAD
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
# One process per suite (no fork per test): a leak anywhere in a test
# binary is reported when it exits.
CK_FORK=no
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS CK_FORK
# Tests that failed only because LeakSanitizer's own tracer crashed at exit
# ("LeakSanitizer has encountered a fatal error", seen once in the fault
# test on a loaded machine: the leak check did not run, nothing was found).
# Anything else failing gives no names, so no rerun.
tool_crashes() { # TESTLOG_JSON
    python3 - "$1" <<'PY'
import json, sys
crashed, other = [], False
for line in open(sys.argv[1]):
    t = json.loads(line)
    if t.get("result") in ("FAIL", "TIMEOUT", "ERROR", "UNEXPECTEDPASS"):
        out = (t.get("stdout") or "") + (t.get("stderr") or "")
        if "LeakSanitizer has encountered a fatal error" in out and "ERROR: " not in out:
            crashed.append(t["name"])
        else:
            other = True
print("" if other else " ".join(crashed))
PY
}
# run_suite NAME SUFFIX [--setup S]: the suite (device tests only with a
# setup) once, and once more for the tests that only hit a tracer crash
# (both logs are checked below)
run_suite() {
    name=$1 sfx=$2; shift 2
    suite=
    [ $# -gt 0 ] && suite="--suite device"
    # shellcheck disable=SC2086
    meson test -C "$B" --print-errorlogs "$@" $suite && ok=1 || ok=0
    [ "$sfx" = "-$name" ] || cp "$B/meson-logs/testlog$sfx.txt" "$B/meson-logs/testlog-$name.txt"
    [ $ok -eq 1 ] && return 0
    again=$(tool_crashes "$B/meson-logs/testlog$sfx.json")
    [ -n "$again" ] || return 1
    echo "sanitize_check: LeakSanitizer's tracer crashed in: $again; running them once more"
    # shellcheck disable=SC2086
    meson test -C "$B" --no-rebuild --print-errorlogs "$@" $again && ok=1 || ok=0
    cp "$B/meson-logs/testlog$sfx.txt" "$B/meson-logs/testlog-$name-again.txt"
    [ $ok -eq 1 ]
}
rm -f "$B"/meson-logs/testlog-*.txt
rc=0
run_suite pocl "" || rc=1
# the device tests on Mesa rusticl as well, when it is there (they skip otherwise)
run_suite rusticl -rusticl --setup rusticl || rc=1
for log in "$B"/meson-logs/testlog-pocl*.txt "$B"/meson-logs/testlog-rusticl*.txt; do
    [ -f "$log" ] || continue
    if grep -n -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$log"; then
        echo "sanitize_check: sanitizer reports in $log"
        rc=1
    fi
done
[ "$rc" -eq 0 ] && echo "sanitize_check: the whole suite is clean under ASan + UBSan + LSan"
exit $rc
