#!/bin/sh
# What a user of `clresnet` would trip over: a run folder is never written
# over; --resume keeps every setting (only a few may change, each logged) and
# a finished run says so; SIGTERM and SIGHUP stop like Ctrl-C; evaluate and
# predict take a run folder; errors come first and alone; the sample data is
# found wherever the program is; progress without a terminal.
set -u
. "$(dirname "$0")/../check_lib.sh"
C=$CLRESNET
DATA=$(cd "$(dirname "$0")/.." && pwd)/fixtures/train_tiny
T=$(mktemp -d /tmp/clresnet-user-cli-XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"' EXIT
SMALL="--data $DATA --model baseline --width 0.25 --image-size 32 --batch-size 8 --no-augment --workers 2"
md5() { md5sum "$1" | cut -d' ' -f1; }
no() { # NAME PATTERN FILE: the file must not hold the pattern
    if grep -q -- "$2" "$3"; then echo "FAIL $1: '$2' in $3"; cat "$3"; fail=1; else echo "ok   $1"; fi
}

# --- a run folder is never written over
check first-run 0 "run $T/r1: 1 epoch," -- $C --quiet train $SMALL --epochs 1 --out "$T/r1"
before=$(md5 "$T/r1/last.safetensors")
check out-holds-run 1 "already holds a finished run (metrics.json): train it further with .$C train --resume $T/r1 --epochs N., choose another --out, or add --overwrite" -- \
    $C train $SMALL --epochs 1 --out "$T/r1"
if [ "$(md5 "$T/r1/last.safetensors")" = "$before" ]; then echo "ok   checkpoint-untouched"
else echo "FAIL checkpoint-untouched: last.safetensors changed"; fail=1; fi
cp -r "$T/r1" "$T/r1o"
check overwrite 0 "run $T/r1o: 2 epochs" -- $C --quiet train $SMALL --epochs 2 --out "$T/r1o" --overwrite
check overwrite-fresh-log 0 '^2,' -- tail -1 "$T/r1o/log.csv"

# --- --resume keeps every setting; only some may change, and config.json logs them
check resume-other-flag 2 "error: --lr cannot be given with --resume" -- $C train --resume "$T/r1" --lr 0.1
check resume-other-flag-model 2 "error: --model cannot be given with --resume" -- $C train --resume "$T/r1" --model resnet50
check resume-out 2 "error: --out cannot be given with --resume" -- $C train --resume "$T/r1" --out "$T/x"
mfile=$(md5 "$T/r1/metrics.json")
check finished 0 "run $T/r1 is finished (it trained all its epochs): 1 epoch, 3 steps; nothing to do" -- \
    $C --quiet train --resume "$T/r1"
if [ "$(md5 "$T/r1/metrics.json")" = "$mfile" ]; then echo "ok   finished-not-retested"
else echo "FAIL finished-not-retested: metrics.json rewritten"; fail=1; fi
check resume-more-epochs 0 "run $T/r1: 3 epochs, 9 steps" -- $C --quiet train --resume "$T/r1" --epochs 3 --workers 1
check change-logged 0 '"after_epoch": 1' -- cat "$T/r1/config.json"
check change-logged-epochs 0 '"setting": "epochs"' -- cat "$T/r1/config.json"
check change-logged-workers 0 '"setting": "workers"' -- cat "$T/r1/config.json"
check config-epochs 0 '"epochs": 3' -- cat "$T/r1/config.json"
check fewer-epochs 0 "is finished (it trained more epochs than --epochs): 3 epochs" -- \
    $C --quiet train --resume "$T/r1" --epochs 2
$C train $SMALL --epochs 5 --plateau-threshold 0.5 --early-stop-threshold 0.5 --plateau-patience 0 \
    --early-stop 2 --out "$T/es" > "$T/es.log" 2>&1
check early-stopped 0 "early stop: no validation improvement for 2 epochs (best loss .* at epoch 1)" -- cat "$T/es.log"
check lr-reduced 0 "learning rate reduced: 0.001 -> 0.0001 (no validation improvement for 1 epoch)" -- cat "$T/es.log"
check finished-early 0 "is finished (early stopping ended it)" -- $C --quiet train --resume "$T/es" --epochs 9

# --- SIGTERM and SIGHUP stop like Ctrl-C: checkpoint, resume command, 128 + signal; same losses after resume
stop_run() { # SIGNAL DIR: start a long run paused after step 2, signal it; prints the exit code
    $C train $SMALL --epochs 3 --test-pause-at-step 2 --out "$2" > "$2.out" 2>&1 &
    pid=$!
    wait_for_line "paused after step 2" "$2.out" "$pid"
    kill -"$1" "$pid"
    wait "$pid"
    echo $?
}
rc=$(stop_run TERM "$T/term")
if [ "$rc" -eq 143 ] && grep -q "stopped by SIGTERM after step" "$T/term.out" &&
    grep -q "resume with: $C train --resume $T/term" "$T/term.out"; then
    echo "ok   sigterm"
else echo "FAIL sigterm: exit $rc, want 143 and the resume command"; cat "$T/term.out"; fail=1; fi
# the resumed run keeps --epochs 3 (no flag given)
check sigterm-resume 0 "run $T/term: 3 epochs, 9 steps" -- $C --quiet train --resume "$T/term"
check reference 0 "3 epochs" -- $C --quiet train $SMALL --epochs 3 --out "$T/ref"
losses() { cat "$1/steps.csv"; cut -d, -f1-6,9 "$1/log.csv"; }
if [ "$(losses "$T/term")" = "$(losses "$T/ref")" ]; then echo "ok   sigterm-same-losses"
else echo "FAIL sigterm-same-losses"; losses "$T/term"; losses "$T/ref"; fail=1; fi
rc=$(stop_run HUP "$T/hup")
if [ "$rc" -eq 129 ] && grep -q "stopped by SIGHUP" "$T/hup.out"; then echo "ok   sighup"
else echo "FAIL sighup: exit $rc, want 129"; cat "$T/hup.out"; fail=1; fi

# `timeout` as users run it: on its own SIGTERM it signals the run, then the run's process group (two
# SIGTERMs at once); a terminal's Ctrl-C reaches every process of the group too. One stop request: checkpoint.
timeout 600 $C train $SMALL --epochs 3 --test-pause-at-step 2 --out "$T/to" > "$T/to.out" 2>&1 &
tpid=$!
wait_for_line "paused after step 2" "$T/to.out" "$tpid"
kill -TERM "$tpid"
wait "$tpid"
if grep -q "stopped by SIGTERM after step 2; checkpoint" "$T/to.out" && [ -f "$T/to/last.safetensors" ]; then
    echo "ok   timeout-double-sigterm"
else echo "FAIL timeout-double-sigterm: no checkpoint"; cat "$T/to.out"; fail=1; fi
# a second Ctrl-C soon after the first (the run paused: its clock stopped) is the same request
$C train $SMALL --epochs 3 --test-pause-at-step 2:2 --out "$T/int2" > "$T/int2.out" 2>&1 &
pid=$!
wait_for_line "paused after step 2" "$T/int2.out" "$pid"
kill -INT "$pid"
wait_for_line "stop signal 1 received" "$T/int2.out" "$pid"
kill -INT "$pid"
wait "$pid"; rc=$?
if [ "$rc" -eq 130 ] && grep -q "stopped by Ctrl-C after step 2; checkpoint" "$T/int2.out"; then echo "ok   double-ctrl-c"
else echo "FAIL double-ctrl-c: exit $rc"; cat "$T/int2.out"; fail=1; fi
check timeout-resume 0 "run $T/to: 3 epochs, 9 steps" -- $C --quiet train --resume "$T/to"
if [ "$(losses "$T/to")" = "$(losses "$T/ref")" ]; then echo "ok   timeout-same-losses"
else echo "FAIL timeout-same-losses"; fail=1; fi

# --- unreadable images: all named before anything starts; --skip-bad lists them in the output, config.json
# and the report; a run folder left without a checkpoint resumes (starts again) with one command
cp -r "$DATA" "$T/bad"
head -c 300 "$T/bad/train/alpha/alpha_00.jpg" > "$T/trunc.jpg" && mv "$T/trunc.jpg" "$T/bad/train/alpha/alpha_00.jpg"
echo garbage > "$T/bad/val/alpha/zz.jpg"
BAD="--data $T/bad --model baseline --width 0.25 --image-size 32 --batch-size 8 --no-augment --workers 2 --epochs 1"
$C train $BAD --out "$T/bd" > "$T/bd.out" 2>&1; brc=$?
check bad-all-named 0 "error: 2 unreadable images" -- cat "$T/bd.out"
check bad-names-train 0 "train split: $T/bad/train/alpha/alpha_00.jpg: corrupt JPEG" -- cat "$T/bd.out"
check bad-names-val 0 "val split: $T/bad/val/alpha/zz.jpg: not a JPEG or PNG image" -- cat "$T/bd.out"
if [ "$brc" -eq 1 ] && [ ! -e "$T/bd" ]; then echo "ok   bad-nothing-made"; else echo "FAIL bad-nothing-made: exit $brc"; fail=1; fi
$C train $BAD --skip-bad --out "$T/bs" > "$T/bs.out" 2>&1
check skip-listed 0 "skip-bad leaves out 2 unreadable images" -- cat "$T/bs.out"
check skip-config 0 '"file": "'"$T/bad/val/alpha/zz.jpg"'"' -- cat "$T/bs/config.json"
check skip-report 0 "2 unreadable images were left out of this run" -- cat "$T/bs/report.html"
# found mid-run (no check at the start): the folder has no checkpoint; --resume starts it again, --skip-bad allowed
check midrun-bad 1 "corrupt JPEG" -- $C train $BAD --no-data-check --out "$T/bm"
check midrun-resume-hint 1 "already holds a run (config.json): resume it" -- $C train $BAD --out "$T/bm"
check midrun-resume-skip 0 "run $T/bm: 1 epoch," -- $C train --resume "$T/bm" --skip-bad
check midrun-resume-logged 0 '"skipped_images": \[$' -- cat "$T/bm/config.json"

# --- evaluate and predict take a run folder; anything else is one clear line
m0=$(md5 "$T/r1/metrics.json"); r0=$(md5 "$T/r1/report.html")
check evaluate-run-folder 0 "$T/r1/best.safetensors on the test split" -- $C --quiet evaluate "$T/r1"
check evaluate-subfolder 0 '"split": "test"' -- cat "$T/r1/eval-test/metrics.json"
mkdir -p "$T/other" && cp -r "$DATA"/* "$T/other/"
check evaluate-other-data 0 "on the test split of $T/other" -- $C --quiet evaluate "$T/r1" --data "$T/other"
check evaluate-other-folder 0 '"split": "test"' -- cat "$T/r1/eval-test-other/metrics.json"
check evaluate-not-into-run 2 "is the folder of $T/r1/best.safetensors, whose metrics.json and report are the run's own" -- \
    $C --quiet evaluate "$T/r1" --out "$T/r1"
if [ "$(md5 "$T/r1/metrics.json")" = "$m0" ] && [ "$(md5 "$T/r1/report.html")" = "$r0" ]; then
    echo "ok   evaluate-keeps-run-results"
else echo "FAIL evaluate-keeps-run-results: the run's metrics.json or report.html changed"; fail=1; fi
check evaluate-val 0 "on the val split" -- $C --quiet evaluate "$T/r1" --split val
check eval-val-named 0 "<h1>clresnet run report: baseline/relu/width-0.25, val split</h1>" -- cat "$T/r1/eval-val/report.html"
check eval-val-curves-link 0 "training curves are in <a href=\"../report.html\">" -- cat "$T/r1/eval-val/report.html"
check predict-run-folder 0 "1. class" -- $C --quiet predict "$T/r1" "$DATA/test/alpha/alpha_00.jpg"
mkdir -p "$T/notarun"
check evaluate-not-a-run 1 "$T/notarun is a folder without best.safetensors" -- $C --quiet evaluate "$T/notarun"
check predict-not-a-run 1 "$T/notarun is a folder without best.safetensors" -- $C --quiet predict "$T/notarun" x.jpg
check evaluate-not-a-checkpoint 1 "not a safetensors file" -- $C --quiet evaluate "$T/r1/config.json"
PNG=$(cd "$(dirname "$0")/.." && pwd)/fixtures/png
check predict-png 0 "rgb.png" -- $C --quiet predict "$T/r1" "$PNG/rgb.png"
check predict-bad-png 1 "truncated.png: corrupt PNG" -- $C --quiet predict "$T/r1" "$PNG/truncated.png"
check predict-not-an-image 1 "not a JPEG or PNG image" -- $C --quiet predict "$T/r1" "$T/r1/log.csv"
check predict-missing-image 1 "^clresnet: error: $T/nope.jpg" -- $C predict "$T/r1" "$T/nope.jpg"

# --- errors come first (no device lines before them), alone under --quiet
$C train --data "$T/nodata" --out "$T/nd" > "$T/nd.out" 2>&1
check data-error-first 0 "^clresnet: error: $T/nodata" -- head -1 "$T/nd.out"
$C --quiet train --data "$T/nodata" --out "$T/nd" > "$T/ndq.out" 2>&1
if [ "$(wc -l < "$T/ndq.out")" -eq 1 ]; then echo "ok   data-error-alone"
else echo "FAIL data-error-alone:"; cat "$T/ndq.out"; fail=1; fi
$C train $SMALL --epochs 1 --out /proc/no/such > "$T/po.out" 2>&1
check out-error-first 0 "^clresnet: error: cannot create folder /proc/no" -- head -1 "$T/po.out"
printf 'junk' > "$T/bad.safetensors"
$C train $SMALL --epochs 1 --init "$T/bad.safetensors" --out "$T/bi" > "$T/bi.out" 2>&1
check init-error-first 0 "^clresnet: error: --init: $T/bad.safetensors: not a safetensors file" -- head -1 "$T/bi.out"
if [ ! -e "$T/bi" ]; then echo "ok   init-error-no-folder"; else echo "FAIL init-error-no-folder: $T/bi made"; fail=1; fi
check misplaced-device 2 "error: --device is a global option: clresnet --device 0 train ..." -- $C train --device 0
check misplaced-quiet 2 "error: --quiet is a global option: clresnet --quiet evaluate ..." -- $C evaluate "$T/r1" --quiet
check resume-not-a-run 1 "error: --resume: $T/notarun is not a run folder ($T/notarun/config.json: No such file" -- \
    $C train --resume "$T/notarun"

# --- the sample data is found at run time, wherever the program is
mkdir -p "$T/moved"
cp "$C" "$T/moved/clresnet"
ln -s "$DATA" "$T/moved/data"
check data-next-to-binary 0 "data $DATA, run folder" -- sh -c "cd / && '$T/moved/clresnet' train --model baseline \
    --width 0.25 --image-size 32 --batch-size 8 --no-augment --max-steps 1 --epochs 1 --out '$T/moved-run'"
mkdir -p "$T/lonely"
cp "$C" "$T/lonely/clresnet"
check no-sample-data 1 "no --data given and no sample data found" -- env -u CLRESNET_DATA "$T/lonely/clresnet" train --out "$T/lr"
check clresnet-data-env 0 "data $DATA" -- env CLRESNET_DATA="$DATA" "$T/lonely/clresnet" train --model baseline \
    --width 0.25 --image-size 32 --batch-size 8 --no-augment --max-steps 1 --epochs 1 --out "$T/env-run"

# --- small things: help as a command, "did you mean", numbers as written, values used, the program's own name
check help-command 0 "usage: clresnet \[--device N\] train" -- $C help train
check help-command-bare 0 "^commands:" -- $C help
check did-you-mean 2 "unknown option '--epoch'; did you mean --epochs?" -- $C train --epoch 3
check config-decimal 0 '"grayscale": 0.1,' -- cat "$T/r1/config.json"
check config-workers-used 0 '"workers": [1-9]' -- cat "$T/r1/config.json"
check config-eval-batch-used 0 '"eval_batch_size": 8,' -- cat "$T/r1/config.json"
check finished-run-hint 1 "holds a finished run (metrics.json): train it further with .$T/moved/clresnet train --resume $T/r1 --epochs N" -- \
    "$T/moved/clresnet" train $SMALL --out "$T/r1"

# compare writes no files unless asked (never into the folder it is run from)
mkdir -p "$T/cwd"
check compare-stdout 0 "^| baseline/relu/width-0.25" -- sh -c "cd '$T/cwd' && $C compare '$T/r1' '$T/term'"
if [ -z "$(ls "$T/cwd")" ]; then echo "ok   compare-no-files"; else echo "FAIL compare-no-files: $(ls "$T/cwd")"; fail=1; fi
check compare-out 0 "wrote $T/cmp/compare.csv" -- $C compare "$T/r1" "$T/term" --out "$T/cmp"
check report-missing 1 "^clresnet: error: $T/nope: No such file or directory" -- $C report "$T/nope"

# what a normal start prints: the kernels' line with its timing, the first step at once (even with a long
# progress interval), no compiler output and no GEMM line; --verbose names the GEMM in use
CLRESNET_PROGRESS_SECONDS=3600 $C train $SMALL --epochs 1 --out "$T/first" > "$T/first.out" 2>&1
check kernels-line 0 "^clresnet: getting the kernels ready (built on the first run on a device, then cached) ... [0-9.]* s ([0-9]* built, [0-9]* from cache)" -- cat "$T/first.out"
check first-step-line 0 "^train epoch 1/1  batch 1/3 " -- cat "$T/first.out"
no no-gemm-line "GEMM" "$T/first.out"
no no-compiler-output "warning" "$T/first.out"
check verbose-gemm 0 "^clresnet: convolution GEMM: " -- $C --verbose train $SMALL --epochs 1 --out "$T/verbose"

# --- progress without a terminal: a line at least every CLRESNET_PROGRESS_SECONDS (30 by default)
CLRESNET_PROGRESS_SECONDS=0 $C train $SMALL --epochs 2 --out "$T/prog" > "$T/prog.out" 2>&1
check progress-lines 0 "^train epoch 2/2  batch 2/3 .* ETA .*, run " -- cat "$T/prog.out"
check epoch-line-top5 0 "^epoch   1/2 .* top-5 " -- cat "$T/prog.out"
check log-top5 0 "val_top5" -- head -1 "$T/prog/log.csv"
exit $fail
