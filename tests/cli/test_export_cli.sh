#!/bin/sh
# `clresnet export`: its errors (before any device work), a checkpoint and a
# run folder written as ONNX with the class names of the run's splits.json,
# and the graph the same as the one onnxruntime ran for
# tests/fixtures/onnx_logits.safetensors (its fingerprint, by onnx_reference).
set -u
. "$(dirname "$0")/../check_lib.sh"
C=$CLRESNET
R=$ONNX_REFERENCE
fx=$(cd "$(dirname "$0")/../fixtures" && pwd)
tmp=$(mktemp -d "${TMPDIR:-/tmp}/clresnet-export.XXXXXX")
trap 'rm -rf "$tmp"' EXIT

check help 0 'usage: clresnet \[--device N\] export' -- $C export --help
check listed 0 'export' -- $C --help
check no-checkpoint 2 'which checkpoint or run folder' -- $C export --onnx "$tmp/x.onnx"
check no-onnx 2 'give the file to write: --onnx FILE.onnx' -- $C export "$tmp"
check onnx-no-value 2 '--onnx needs a value' -- $C export "$tmp" --onnx
check unknown-option 2 "unknown option '--frob'" -- $C export "$tmp" --frob
check misplaced-global 2 'global option' -- $C export "$tmp" --device 0
check missing 1 'give a checkpoint' -- $C export "$tmp/none.safetensors" --onnx "$tmp/x.onnx"
check not-a-run 1 'without best.safetensors' -- $C export "$tmp" --onnx "$tmp/x.onnx"

# a checkpoint of a fixture model (tests/nn/onnx_support.c)
if ! $R checkpoint baseline_relu "$tmp/ckpt.safetensors" >"$tmp/ref.log" 2>&1; then
    echo "FAIL onnx_reference checkpoint:"; cat "$tmp/ref.log"; exit 1
fi
check checkpoint 0 'wrote .*x.onnx: baseline relu, input \[batch, 3, 64, 64\], 10 classes, opset 17' -- \
    $C export "$tmp/ckpt.safetensors" --onnx "$tmp/x.onnx"
check no-names 0 'no class names found' -- $C export "$tmp/ckpt.safetensors" --onnx "$tmp/x.onnx"
want=$(grep -a -o '"graph_hash.baseline_relu":"[0-9a-f]*"' "$fx/onnx_logits.safetensors" | cut -d'"' -f4)
got=$($R graph-hash "$tmp/x.onnx")
if [ -n "$want" ] && [ "$got" = "$want" ]; then echo "ok   same graph as onnxruntime ran ($got)"
else echo "FAIL graph fingerprint $got, fixture $want"; fail=1; fi

# a run folder: best.safetensors and splits.json's class names (UTF-8 in the metadata)
mkdir "$tmp/run"
cp "$tmp/ckpt.safetensors" "$tmp/run/best.safetensors"
printf '{"num_classes": 10, "split_mode": "seed", "class_names": ["c0","c1","c2","c3","c4","c5","c6","c7","c8","c9 \\u00e9"]}\n' \
    >"$tmp/run/splits.json"
# a folder that is not there: said before any device work, naming the user's path
$C export "$tmp/run" --onnx "$tmp/missing/x.onnx" > "$tmp/ex.out" 2>&1
check missing-folder-first 0 "^clresnet: error: cannot write $tmp/missing/x.onnx: folder $tmp/missing" -- head -1 "$tmp/ex.out"
check run-folder 0 'class names from splits.json' -- $C export "$tmp/run" --onnx "$tmp/run.onnx" --softmax
check run-names 0 '"c8","c9 é"\]' -- grep -a -o '\["c0","c1",[^]]*\]' "$tmp/run.onnx"
check probabilities 0 'probabilities' -- grep -a -o 'probabilities' "$tmp/run.onnx"
check unwritable 1 'error' -- $C export "$tmp/run" --onnx "$tmp/no-such-dir/x.onnx"
exit $fail
