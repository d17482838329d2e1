#!/bin/sh
# The GEMM plan measured per device (src/ops/gemm_autotune.c): the first run
# of a model measures the plans within its budget and caches the winner for
# the device and for the model; the next run takes it without measuring;
# list-devices --check shows it; a resumed run uses the plan its config.json
# recorded, whatever the cache says now. In a cache folder of its own (the
# kernel binaries copied in), so the other tests keep the default plan.
set -u
. "$(dirname "$0")/../check_lib.sh"
DEV=${CLRESNET_TEST_DEVICE:-0}
C="$CLRESNET --device $DEV"
DATA=$(cd "$(dirname "$0")/.." && pwd)/fixtures/train_tiny
T=$(mktemp -d /tmp/clresnet-tune-XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"' EXIT
if $C list-devices --check 2>&1 | grep -q 'is not a device\|is out of range'; then
    echo "SKIP: device $DEV is not on this machine"; exit 77
fi
mkdir "$T/cache"
cp "$CLRESNET_CACHE_DIR"/*.clbin "$T/cache/" 2>/dev/null
export CLRESNET_CACHE_DIR="$T/cache"
# has NAME PATTERN: the last check's output holds PATTERN
has() { if printf '%s' "$out" | grep -q -- "$2"; then echo "ok   $1"; else echo "FAIL $1: no '$2'"; fail=1; fi; }
BENCH="bench --model baseline --width 0.25 --image-size 32 --batch-size 2 --steps 1 --warmup 0"

# a budget of 3 s: the default plan and whatever else starts within 3 s
check first-run-measures 0 'measuring the GEMM plans on baseline' -- env CLRESNET_AUTOTUNE=3 $C $BENCH
has candidates-listed '\[ 1/[0-9]*\] '
has winner-cached 'GEMM plan .*GFLOP/s.*cached in'
n=$(ls "$T/cache"/gemm-plan-*.txt 2>/dev/null | wc -l)
[ "$n" -eq 2 ] && echo "ok   two entries (device, model)" || { echo "FAIL cache entries: $n, want 2"; fail=1; }
check second-run-reuses 0 'measured on this device' -- env CLRESNET_AUTOTUNE=3 $C --verbose $BENCH
if printf '%s' "$out" | grep -q 'measuring the GEMM plans'; then echo "FAIL second run measured again"; fail=1; fi
check list-devices-shows 0 'GEMM plan: .*' -- $C list-devices --check
if printf '%s' "$out" | grep -q 'no plan measured'; then echo "FAIL list-devices --check: no measured plan"; fail=1; fi
# a frozen model is its own workload (its frozen stages run forward only): measured once, under its own key
check frozen-measures 0 'measuring the GEMM plans on baseline.*frozen to layer2' -- env CLRESNET_AUTOTUNE=3 $C $BENCH \
    --freeze layer2
has frozen-bench 'frozen up to layer2'
check frozen-reuses 0 'frozen to layer2' -- env CLRESNET_AUTOTUNE=3 $C --verbose $BENCH --freeze layer2
if printf '%s' "$out" | grep -q 'measuring the GEMM plans'; then echo "FAIL frozen run measured again"; fail=1; fi
check freeze-bad-stage 2 "'stem': baseline has no such stage" -- $C bench --model baseline --freeze stem
check tune-freeze-bad-stage 2 "'stem': baseline has no such stage" -- $C tune --model baseline --freeze stem
# CLRESNET_AUTOTUNE=0 never measures (a model not measured yet)
check autotune-off 0 'training step' -- env CLRESNET_AUTOTUNE=0 $C bench --model baseline --width 0.25 \
    --image-size 40 --batch-size 2 --steps 1 --warmup 0
if printf '%s' "$out" | grep -q 'measuring the GEMM plans'; then echo "FAIL CLRESNET_AUTOTUNE=0 measured"; fail=1; fi

# a run records its plan; after the cache changes, --resume uses the recorded one
TRAIN="--data $DATA --model baseline --width 0.25 --image-size 32 --batch-size 8 --no-augment --workers 2"
check train-records-plan 0 'test' -- env CLRESNET_AUTOTUNE=0 $C train $TRAIN --epochs 1 --out "$T/run"
plan=$(sed -n 's/.*"gemm_plan": "\([^"]*\)".*/\1/p' "$T/run/config.json")
[ -n "$plan" ] && echo "ok   config.json gemm_plan $plan" || { echo "FAIL no gemm_plan in config.json"; fail=1; }
for f in "$T/cache"/gemm-plan-*.txt; do # every entry now names another plan
    case $plan in clblast) other=packed:vw=4,mr=3,nr=8,lanes=0,fused=1,gather=0 ;; *) other=clblast ;; esac
    sed "s/^[^ ]*/$other/" "$f" > "$f.new" && mv "$f.new" "$f"
done
check resume-uses-run-plan 0 "the run's own (config.json)" -- $C --verbose train --resume "$T/run" --epochs 2
check resume-kept-plan 0 "\"gemm_plan\": \"$plan\"" -- cat "$T/run/config.json"
exit $fail
