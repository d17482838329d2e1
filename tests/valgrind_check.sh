#!/bin/sh
# The host-only tests (meson suite 'host': .mat/JPEG/image-folder data
# pipeline, safetensors, schedule, metrics, report and the fuzz replays)
# under valgrind memcheck: any invalid access, use of uninitialised memory
# or definite/indirect leak fails. No OpenCL device runs in these tests.
# Usage: tests/valgrind_check.sh [BUILD_DIR]   (default build; not a sanitizer build)
set -eu
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-build}
command -v valgrind > /dev/null || { echo "valgrind_check: valgrind is not installed"; exit 1; }
ninja -C "$BUILD"
LOGS=$(mktemp -d "${TMPDIR:-/tmp}/clresnet-valgrind.XXXXXX")
# no fork per test, so valgrind watches the test bodies; libjpeg-turbo's SIMD
# code is beyond memcheck's tracking (false "uninitialised" reports, a known
# libjpeg-turbo issue), so it runs its C code paths here
CK_FORK=no
JSIMD_FORCENONE=1
export CK_FORK JSIMD_FORCENONE
rc=0
meson test -C "$BUILD" --no-rebuild --suite host --print-errorlogs --timeout-multiplier 4 \
    --wrapper "valgrind --error-exitcode=1 --leak-check=full --errors-for-leak-kinds=definite,indirect --track-origins=no -q --log-file=$LOGS/%p.log" ||
    rc=1
# every report, also from a process whose exit status hid it
for f in "$LOGS"/*.log; do
    if [ -s "$f" ]; then
        cat "$f"
        rc=1
    fi
done
rm -rf "$LOGS"
if [ "$rc" -eq 0 ]; then
    echo "valgrind_check: the host tests are clean under valgrind memcheck"
else
    echo "valgrind_check: FAILED (valgrind reports above, or a test failed)"
fi
exit $rc
