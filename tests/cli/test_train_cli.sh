#!/bin/sh
# `clresnet train` from the command line: bad flag values are errors naming
# the flag; a tiny run on tests/fixtures/train_tiny writes the whole run
# folder; --resume of a 1-epoch run to 2 epochs, and Ctrl-C (SIGINT) then
# --resume, log the same losses as an uninterrupted run.
set -u
. "$(dirname "$0")/../check_lib.sh"
C=$CLRESNET
DATA=$(cd "$(dirname "$0")/.." && pwd)/fixtures/train_tiny
T=$(mktemp -d /tmp/clresnet-train-cli-XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"' EXIT
SMALL="--data $DATA --model baseline --width 0.25 --image-size 32 --batch-size 8 --no-augment --workers 2"

check help 0 'usage: clresnet \[--device N\] train' -- $C train --help
for bad in "--batch-size 0" "--batch-size x" "--eval-batch-size -3" "--act foo" "--model x" "--lr -1" "--lr 0" \
           "--epochs 0" "--width 0" "--image-size 4" "--resize 2" "--seed -1" "--optimizer lamb" \
           "--weight-decay 2" "--plateau-factor 1" "--plateau-patience -1" "--hflip 1.5" "--rotation 200" \
           "--max-steps 0" "--split both" "--workers -1" "--min-lr -1" "--early-stop x"; do
    flag=${bad%% *} value=${bad#* }
    check "bad $flag $value" 2 "error: $flag '$value'" -- $C train $bad
done
check unknown-option 2 "unknown option '--frob'" -- $C train --frob 1
check missing-value 2 '--epochs needs a value' -- $C train --epochs
check stray-argument 2 "unexpected argument 'extra'" -- $C train extra
mkdir "$T/empty"
check resume-no-config 1 'config.json' -- $C train --resume "$T/empty"
check resume-missing-dir 1 "$T/nowhere/config.json" -- $C train --resume "$T/nowhere"
check missing-data 1 "$T/nodata" -- $C train $SMALL --data "$T/nodata" --out "$T/r0" --epochs 1

# --init with torchvision's names (tests/make_fixtures_finetune.py, 10 classes): the classifier of
# this data's class count is initialised afresh, said in one line; predict and export take the run
TV=$(cd "$(dirname "$0")/.." && pwd)/fixtures/tv_resnet50_w16_c10.safetensors
check init-torchvision 0 "loaded 318 of 320 tensors; fc.weight and fc.bias newly initialised (the file's classifier has 10 classes" -- \
    $C train --data "$DATA" --model resnet50-tv --width 0.0625 --image-size 32 --batch-size 8 --no-augment --workers 2 \
    --epochs 1 --max-steps 1 --init "$TV" --out "$T/rtv"
check init-torchvision-export 0 "resnet50-tv relu" -- $C export --onnx "$T/rtv/model.onnx" "$T/rtv"
check init-seed-graph 1 "is not part of resnet50" -- $C train $SMALL --model resnet50 --width 0.0625 --epochs 1 \
    --init "$TV" --out "$T/rtv2"
# fine-tuning's flags: a stage the model has (whichever flag comes first), the head's lr in config.json
check freeze-stage-unknown 2 "'layer5': resnet50-tv has no such stage; its stages are stem, layer1, layer2, layer3, layer4" \
    -- $C train --freeze layer5 --model resnet50-tv
check freeze-baseline-stem 2 "baseline has no such stage; its stages are layer1, layer2, layer3, layer4" \
    -- $C train $SMALL --freeze stem
check bad-head-lr 2 "error: --head-lr '0'" -- $C train --head-lr 0
check freeze-config 0 '"freeze": "layer3"' -- $C train --freeze layer3 --model resnet50-tv --head-lr 0.01 --print-config
check head-lr-config 0 '"head_lr": 0.01' -- $C train --model resnet50-tv --head-lr 0.01 --print-config
check freeze-not-in-experiment 2 "--freeze is not an experiment option" -- $C experiment --freeze layer3
check freeze-no-resume 2 "--freeze cannot be given with --resume" -- $C train --resume "$T/rtv" --freeze layer1

# a tiny run: every file of the run folder
check tiny-run 0 "run $T/r1: 1 epoch, 3 steps" -- $C train $SMALL --epochs 1 --out "$T/r1"
for f in config.json log.csv log.jsonl steps.csv last.safetensors best.safetensors metrics.json report.html \
         splits.json predictions.csv; do
    if [ -s "$T/r1/$f" ]; then echo "ok   file $f"; else echo "FAIL file $f missing or empty"; fail=1; fi
done
if [ "$(wc -l < "$T/r1/steps.csv")" -eq 4 ] && [ "$(wc -l < "$T/r1/log.csv")" -eq 2 ]; then
    echo "ok   log lengths"
else
    echo "FAIL log lengths: steps.csv $(wc -l < "$T/r1/steps.csv"), log.csv $(wc -l < "$T/r1/log.csv")"; fail=1
fi
check config-model 0 '"model": "baseline"' -- cat "$T/r1/config.json"
check config-device 0 '"device": "..*"' -- cat "$T/r1/config.json"

# losses of a run (step, epoch, loss, lr; epoch, train/val loss and accuracy, lr, best): no timings
losses() { cat "$1/steps.csv"; cut -d, -f1-6,9 "$1/log.csv"; }
same_losses() { # NAME DIR_A DIR_B
    if [ "$(losses "$2")" = "$(losses "$3")" ]; then echo "ok   $1"; else
        echo "FAIL $1: losses differ"; losses "$2"; echo ---; losses "$3"; fail=1; fi
}

# --resume to 2 epochs (settings from config.json) == an uninterrupted 2-epoch run
check two-epochs 0 "3 steps\|6 steps" -- $C train $SMALL --epochs 2 --out "$T/r2"
cp -r "$T/r1" "$T/r1b"
echo partial > "$T/r1b/last.safetensors.tmp.99999"   # a write that a kill interrupted
check resume 0 "run $T/r1b: 2 epochs, 6 steps" -- $C train --resume "$T/r1b" --epochs 2
same_losses resume-same-losses "$T/r2" "$T/r1b"
if [ -e "$T/r1b/last.safetensors.tmp.99999" ]; then echo "FAIL stale-temp: not removed on resume"; fail=1
else echo "ok   stale-temp"; fi
mkdir -p "$T/nockpt" && cp "$T/r1/config.json" "$T/nockpt/"
check resume-before-first-checkpoint 0 "has no checkpoint yet (it stopped before its first one): starting it again" -- \
    $C train --resume "$T/nockpt"
same_losses restarted-same-losses "$T/r1" "$T/nockpt"

# a relative --data is recorded absolute: --resume works from another directory
(cd "$(dirname "$DATA")" && $C train $SMALL --data train_tiny --epochs 1 --out "$T/r5" > "$T/r5.out" 2>&1) ||
    { echo "FAIL relative-data run"; cat "$T/r5.out"; fail=1; }
check config-data-absolute 0 "\"data\": \"$DATA\"" -- cat "$T/r5/config.json"
check resume-elsewhere 0 "2 epochs, 6 steps" -- sh -c "cd / && exec $C train --resume '$T/r5' --epochs 2"

# Ctrl-C: the step finishes, a checkpoint is written, exit 130 with the resume command
$C train $SMALL --epochs 40 --test-pause-at-step 2 --out "$T/r3" > "$T/r3.out" 2>&1 &
pid=$!
wait_for_line "paused after step 2" "$T/r3.out" "$pid"
kill -INT "$pid"
wait "$pid"; rc=$?
if [ "$rc" -eq 130 ] && grep -q "resume with: $C train --resume $T/r3" "$T/r3.out"; then
    echo "ok   sigint"
    steps=$(($(wc -l < "$T/r3/steps.csv") - 1))
    epochs=$((steps / 3 + 2)) # the interrupted epoch and one more
    check sigint-resume 0 "$epochs epochs, $((epochs * 3)) steps" -- $C train --resume "$T/r3" --epochs $epochs
    check sigint-reference 0 "$epochs epochs" -- $C train $SMALL --epochs $epochs --out "$T/r4"
    same_losses sigint-same-losses "$T/r4" "$T/r3"
else
    echo "FAIL sigint: exit $rc, want 130 and the resume command"; cat "$T/r3.out"; fail=1
fi
exit $fail
