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
ASAN_OPTIONS=halt_on_error=1:detect_leaks=1:abort_on_error=0:detect_stack_use_after_return=1
UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0
# One process per suite (no fork per test): a leak anywhere in a test
# binary is reported when it exits.
CK_FORK=no
export ASAN_OPTIONS UBSAN_OPTIONS LSAN_OPTIONS CK_FORK
rc=0
meson test -C "$B" --print-errorlogs || rc=1
cp "$B/meson-logs/testlog.txt" "$B/meson-logs/testlog-pocl.txt"
# the device tests on Mesa rusticl as well, when it is there (they skip otherwise)
meson test -C "$B" --setup rusticl --suite device --print-errorlogs || rc=1
for log in "$B/meson-logs/testlog-pocl.txt" "$B/meson-logs/testlog-rusticl.txt"; do
    [ -f "$log" ] || continue
    if grep -n -E 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (Address|Undefined|Leak)' "$log"; then
        echo "sanitize_check: sanitizer reports in $log"
        rc=1
    fi
done
[ "$rc" -eq 0 ] && echo "sanitize_check: the whole suite is clean under ASan + UBSan + LSan"
exit $rc
