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
# A test is run once more when its only failure is LeakSanitizer's own
# tracer crashing at exit ("LeakSanitizer has encountered a fatal error",
# seen once in the fault test on a loaded machine: the leak check did not
# run, nothing was found). A rerun that passes clears it; anything else
# fails, and so does every sanitizer report in the logs. The decisions are
# made from meson's JSON test logs by tests/sanitize_report.py.
report() { python3 "$ROOT/tests/sanitize_report.py" "$@"; }
# run_suite NAME SUFFIX [--setup S]: the suite (device tests only with a
# setup) once, and once more for the tests that only hit a tracer crash
run_suite() {
    name=$1 sfx=$2; shift 2
    suite=
    [ $# -gt 0 ] && suite="--suite device"
    # shellcheck disable=SC2086
    meson test -C "$B" --print-errorlogs "$@" $suite && ok=1 || ok=0
    cp "$B/meson-logs/testlog$sfx.json" "$B/meson-logs/sanitize-$name.json"
    [ "$sfx" = "-$name" ] || cp "$B/meson-logs/testlog$sfx.txt" "$B/meson-logs/testlog-$name.txt"
    rm -f "$B/meson-logs/sanitize-$name-again.json"
    [ $ok -eq 1 ] && return 0
    again=$(report rerun "$B/meson-logs/sanitize-$name.json")
    [ -n "$again" ] || return 1
    echo "sanitize_check: LeakSanitizer's tracer crashed in: $again; running them once more"
    # shellcheck disable=SC2086
    meson test -C "$B" --no-rebuild --print-errorlogs "$@" $again && ok=1 || ok=0
    cp "$B/meson-logs/testlog$sfx.json" "$B/meson-logs/sanitize-$name-again.json"
    cp "$B/meson-logs/testlog$sfx.txt" "$B/meson-logs/testlog-$name-again.txt"
    [ $ok -eq 1 ]
}
rm -f "$B"/meson-logs/testlog-*.txt "$B"/meson-logs/sanitize-*.json
rc=0
run_suite pocl "" || rc=1
# the device tests on Mesa rusticl as well, when it is there (they skip otherwise)
run_suite rusticl -rusticl --setup rusticl || rc=1
for name in pocl rusticl; do
    first=$B/meson-logs/sanitize-$name.json again=$B/meson-logs/sanitize-$name-again.json
    [ -f "$first" ] || continue
    [ -f "$again" ] || again=
    # shellcheck disable=SC2086
    if ! report check "$first" $again; then
        echo "sanitize_check: sanitizer reports in the $name run (meson-logs/testlog-$name*.txt)"
        rc=1
    fi
done
[ "$rc" -eq 0 ] && echo "sanitize_check: the whole suite is clean under ASan + UBSan + LSan"
exit $rc
