#!/bin/sh
# The training protocol of the specification (MISSION.md, "Preprocessing",
# "Augmentation", "Training"): every default that `train --help` and
# `experiment --help` print, and the value a run really gets
# (`train --print-config`, the settings config.json records), against the
# specification's numbers; then the best-validation-weights rule: a run whose
# last epoch is worse than its best is tested on the best epoch's weights, and
# its metrics.json and report say which epoch.
set -u
. "$(dirname "$0")/../check_lib.sh"
C=$CLRESNET
T=$(mktemp -d /tmp/clresnet-protocol-XXXXXX)
trap '[ -n "${KEEP_TMP:-}" ] || rm -rf "$T"' EXIT

# --- the specification's values: config.json key, value as printed there, train --help text
SPEC='model|"resnet50"|--model resnet50|plain50|baseline   (default resnet50)
act|"relu"|--act relu|leaky|silu   (default relu)
split_mode|"seed"|(default seed: train on tstid)
image_size|224|crop size (default 224)
resize|256|(default round(S*256/224))
augment|true|--no-augment
hflip|0.5|--hflip P (0.5)
rotation|15.0|--rotation DEG (15)
grayscale|0.1|--grayscale P (0.1)
brightness|0.2|--brightness F (0.2)
contrast|0.2|--contrast F (0.2)
saturation|0.2|--saturation F (0.2)
optimizer|"nadam"|--optimizer nadam|adam|sgd (nadam)
lr|0.001|--lr LR (1e-3)
eps|1e-8|--eps E (1e-8)
weight_decay|0.0001|--weight-decay WD (1e-4)
momentum_decay|0.004|--momentum-decay D (4e-3)
batch_size|32|--batch-size B (32)
epochs|100|--epochs N (100)
seed|0|--seed N (0)
shuffle|true|--no-shuffle
factor|0.1|--plateau-factor F (0.1)
cooldown|0|--plateau-cooldown N (0)
min_lr|0.0|--min-lr LR (0)'
$C --quiet train --print-config > "$T/config.json" 2> "$T/config.err" ||
    { echo "FAIL print-config:"; cat "$T/config.err"; fail=1; }
$C train --help > "$T/help.txt"
printf '%s\n' "$SPEC" | while IFS='|' read -r key value help; do
    # the key's line in the pretty-printed JSON (a nested key is indented further)
    if grep -q -- "^ *\"$key\": $value,\?\$" "$T/config.json"; then echo "ok   default $key = $value"
    else echo "FAIL default $key: want $value, config has: $(grep "\"$key\"" "$T/config.json")"; echo fail > "$T/failed"; fi
    if grep -qF -- "$help" "$T/help.txt"; then echo "ok   help $key"
    else echo "FAIL help $key: no '$help' in train --help"; echo fail > "$T/failed"; fi
done
# keys whose name appears twice (plateau and early stopping): their object, line by line
block() { sed -n "/^  \"$1\": {/,/^  }/p" "$T/config.json"; }
want_in() { # NAME OBJECT PATTERN HELP
    if block "$2" | grep -q -- "$3"; then echo "ok   default $1"
    else echo "FAIL default $1: no '$3' in $2:"; block "$2"; fail=1; fi
    if grep -qF -- "$4" "$T/help.txt"; then echo "ok   help $1"; else echo "FAIL help $1: no '$4'"; fail=1; fi
}
want_in plateau-patience plateau '"patience": 10,' '--plateau-patience N (10)'
want_in plateau-threshold plateau '"threshold": 0.0001,' '--plateau-threshold T (1e-4)'
want_in early-stop early_stop '"patience": 15,' '--early-stop N (15)'
want_in early-stop-threshold early_stop '"threshold": 0.0001' '--early-stop-threshold T (1e-4)'
if grep -q '^  "betas": \[$' "$T/config.json" && grep -A3 '"betas"' "$T/config.json" | tr -d ' \n' | grep -q '\[0.9,0.999\]'
then echo "ok   default betas"; else echo "FAIL default betas"; fail=1; fi
check help-betas 0 "--beta1 B (0.9)  --beta2 B (0.999)" -- cat "$T/help.txt"
[ -f "$T/failed" ] && fail=1
# experiment: the same protocol (its runs parse train's options), and its help says so
$C experiment --help > "$T/ehelp.txt"
check experiment-help-protocol 0 "(NAdam, ReduceLROnPlateau, early stopping after 15" -- cat "$T/ehelp.txt"
check experiment-help-best 0 "epochs, the best weights tested)" -- cat "$T/ehelp.txt"
# the defaults of --resize at another size: round(S*256/224), 64 -> 73
check resize-64 0 '"resize": 73,' -- $C --quiet train --image-size 64 --print-config

# --- the best-validation-weights rule. On the sample data this run's validation
# loss is lowest after epoch 2 and worse after epoch 3 (asserted: the check needs it).
R=$T/best
$C --quiet train --model baseline --width 0.25 --image-size 32 --no-augment --workers 2 --epochs 3 --lr 0.01 \
    --out "$R" > "$T/best.out" 2>&1 || { echo "FAIL best-run:"; cat "$T/best.out"; fail=1; }
best=$(awk -F, 'NR > 1 && (b == "" || $4 < v) { v = $4; b = $1 } END { print b }' "$R/log.csv")
last=$(tail -1 "$R/log.csv" | cut -d, -f1)
if [ -n "$best" ] && [ "$best" -lt "$last" ]; then echo "ok   best epoch $best before the last, $last"
else echo "FAIL the run's last epoch is its best: the rule below is not tested"; cat "$R/log.csv"; fail=1; fi
check metrics-epoch 0 "\"checkpoint_epoch\": $best," -- cat "$R/metrics.json"
check metrics-best-file 0 '"checkpoint": ".*/best.safetensors"' -- cat "$R/metrics.json"
check report-epoch 0 "best.safetensors</code> (written after epoch $best)" -- cat "$R/report.html"
check summary-epoch 0 "best validation loss .* at epoch $best; test (best weights)" -- cat "$T/best.out"
# the test numbers are those of best.safetensors, not of the last weights
$C --quiet evaluate "$R/best.safetensors" --out "$T/eval-best" > /dev/null 2>&1
$C --quiet evaluate "$R/last.safetensors" --out "$T/eval-last" > /dev/null 2>&1
loss() { sed -n 's/^ *"loss": \([0-9.e+-]*\),$/\1/p' "$1/metrics.json" | head -1; }
same() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; if (d < 0) d = -d; exit !(a != "" && d <= 1e-6 * (a < 0 ? -a : a)) }'; }
if same "$(loss "$R")" "$(loss "$T/eval-best")"; then echo "ok   test-is-best ($(loss "$R"))"
else echo "FAIL test-is-best: run $(loss "$R"), best.safetensors $(loss "$T/eval-best")"; fail=1; fi
if ! same "$(loss "$R")" "$(loss "$T/eval-last")"; then echo "ok   test-is-not-last ($(loss "$T/eval-last"))"
else echo "FAIL test-is-not-last: the last weights give the same loss"; fail=1; fi
exit $fail
