#!/bin/sh
# Runs the device tests with small cases under oclgrind (an OpenCL simulator
# that checks every memory access): out-of-bounds reads and writes, data
# races, uninitialised values, work-group divergence at barriers, misused API
# calls. Fails on any report, or on a failing test. Usage:
#   tests/oclgrind_check.sh [BUILD_DIR] [TEST...]
# (default: build; test_ops test_batchnorm test_optim test_conv_linear
# test_weights test_runtime:plans). TEST:CASE runs one check case
# (CK_RUN_CASE). Exit 77 (skip) without oclgrind. docs/portability.md
#
# oclgrind runs the program with its own OpenCL runtime preloaded, so its
# simulator is the only device (CLRESNET_TEST_DEVICE=oclgrind picks it by
# name). Reports go to a log file per test; the test's exit status is judged
# too. Of test_runtime only the case "plans" runs (every GEMM plan's kernels):
# the rest builds a broken kernel on purpose, which --check-api rightly reports.
set -u
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build}
[ $# -gt 0 ] && shift
tests=${*:-test_ops test_batchnorm test_optim test_conv_linear test_weights test_runtime:plans}
if ! command -v oclgrind >/dev/null 2>&1; then
    echo "SKIP: oclgrind is not installed (apt-get install oclgrind)"
    exit 77
fi
# --uninitialized is left out: oclgrind 21.10 stops with "Unsupported
# instruction: freeze" (LLVM 15 emits freeze) in that plugin.
opts="--data-races --check-api"
work=$(mktemp -d "${TMPDIR:-/tmp}/clresnet-oclgrind.XXXXXX")
trap 'rm -rf "$work"' EXIT

# Canary: a kernel that writes one past its buffer must be reported, or this
# check proves nothing (oclgrind missing its checks, a changed log format).
cat >"$work/oob.cl" <<'EOF'
__kernel void oob(__global float *a) { a[get_global_id(0) + 1] = 1.0f; }
EOF
printf 'oob.cl\noob\n4 1 1\n4 1 1\n<size=16 fill=0>\n' >"$work/oob.sim"
(cd "$work" && oclgrind-kernel --data-races oob.sim >canary.log 2>&1)
if ! grep -q 'Invalid write' "$work/canary.log"; then
    echo "FAIL canary: oclgrind did not report an out-of-bounds write:"
    cat "$work/canary.log"
    exit 1
fi
echo "ok   canary (oclgrind reports an out-of-bounds write)"

export CLRESNET_TEST_DEVICE=oclgrind
export CLRESNET_FIXTURES="${CLRESNET_FIXTURES:-$here/fixtures}"
export CLRESNET_CACHE_DIR="$work/kernel-cache"
fail=0
for t in $tests; do
    case=${t#*:}
    [ "$case" = "$t" ] && case=
    t=${t%%:*}
    exe="$build/tests/$t"
    [ -x "$exe" ] || { echo "FAIL $t: no $exe (build first)"; fail=1; continue; }
    start=$(date +%s)
    if [ -n "$case" ]; then
        CK_RUN_CASE=$case oclgrind $opts --log "$work/$t.log" "$exe" >"$work/$t.out" 2>&1
    else
        oclgrind $opts --log "$work/$t.log" "$exe" >"$work/$t.out" 2>&1
    fi
    rc=$?
    secs=$(($(date +%s) - start))
    if [ -s "$work/$t.log" ]; then
        echo "FAIL $t: oclgrind reported $(grep -c -i -E 'invalid|race|uninitiali|divergence|error' "$work/$t.log") problem line(s) (${secs} s):"
        head -60 "$work/$t.log"
        fail=1
    elif grep -q 'Checks: 0,' "$work/$t.out"; then
        echo "FAIL $t${case:+:$case}: no check ran"
        fail=1
    elif [ $rc -ne 0 ]; then
        echo "FAIL $t: exit $rc under oclgrind (${secs} s):"
        tail -20 "$work/$t.out"
        fail=1
    else
        echo "ok   $t: no oclgrind report ($(grep -E 'Checks:' "$work/$t.out" | tail -1), ${secs} s)"
    fi
done
exit $fail
