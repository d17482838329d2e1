#!/bin/sh
# `clresnet experiment` at a tiny size: the report's four runs, each in its
# own folder, then compare's tables; stopped by SIGTERM in the middle and run
# again with only --out, it continues with the run it stopped in and ends
# with the same numbers as an experiment never stopped.
set -u
. "$(dirname "$0")/../check_lib.sh"
C=$CLRESNET
DATA=$(cd "$(dirname "$0")/.." && pwd)/fixtures/train_tiny
T=$(mktemp -d /tmp/clresnet-experiment-XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"' EXIT
SMALL="--data $DATA --width 0.25 --image-size 32 --batch-size 8 --no-augment --workers 2 --epochs 3"

check help 0 'usage: clresnet \[--device N\] experiment' -- $C experiment --help
check no-out 2 'give --out DIR' -- $C experiment $SMALL
check no-model-flag 2 '--model is not an experiment option' -- $C experiment --out "$T/x" --model baseline
check whole 0 "comparison: $T/e1/compare.md" -- $C --quiet experiment --out "$T/e1" $SMALL
for r in resnet50-relu resnet50-leaky resnet50-silu baseline-relu; do
    if [ -s "$T/e1/$r/metrics.json" ] && [ -s "$T/e1/$r/report.html" ]; then echo "ok   run $r"
    else echo "FAIL run $r: no metrics.json or report.html"; fail=1; fi
done
for f in compare.md compare.csv compare.html experiment.json; do
    if [ -s "$T/e1/$f" ]; then echo "ok   file $f"; else echo "FAIL file $f"; fail=1; fi
done
check table 0 '^| resnet50/silu/width-0.25 | ' -- cat "$T/e1/compare.md"
check table-baseline 0 '^| baseline/relu/width-0.25 | ' -- cat "$T/e1/compare.md"
check again-nothing-to-do 0 "resnet50-relu is finished" -- $C --quiet experiment --out "$T/e1"
check other-settings 2 "holds an experiment started with other settings" -- $C experiment --out "$T/e1" $SMALL --lr 0.1

# stopped in its second run, continued with only --out: the same numbers
$C experiment --out "$T/e2" $SMALL --test-pause resnet50-leaky:2 > "$T/e2.out" 2>&1 &
pid=$!
wait_for_line "paused after step 2" "$T/e2.out" "$pid"
kill -TERM "$pid"
wait "$pid"; rc=$?
if [ "$rc" -eq 143 ] && grep -q "continue it with: $C experiment --out $T/e2" "$T/e2.out"; then echo "ok   stopped"
else echo "FAIL stopped: exit $rc"; cat "$T/e2.out"; fail=1; fi
if [ ! -e "$T/e2/resnet50-silu" ]; then echo "ok   later runs not started"; else echo "FAIL resnet50-silu started"; fail=1; fi
check continued 0 "comparison: $T/e2/compare.md" -- $C --quiet experiment --out "$T/e2"
for r in resnet50-relu resnet50-leaky resnet50-silu baseline-relu; do
    if cmp -s "$T/e1/$r/steps.csv" "$T/e2/$r/steps.csv"; then echo "ok   same losses $r"
    else echo "FAIL same losses $r"; diff "$T/e1/$r/steps.csv" "$T/e2/$r/steps.csv" | head -5; fail=1; fi
done
# a finished experiment trains further with --epochs alone: every run resumes to it, as train --resume --epochs
check more-epochs 0 "comparison: $T/e1/compare.md" -- $C --quiet experiment --out "$T/e1" --epochs 4
for r in resnet50-relu baseline-relu; do
    check "more-epochs-$r" 0 '^4,' -- tail -1 "$T/e1/$r/log.csv"
    check "more-epochs-logged-$r" 0 '"setting": "epochs"' -- cat "$T/e1/$r/config.json"
done
exit $fail
