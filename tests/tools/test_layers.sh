#!/usr/bin/env bash
# The layering check (tools/check_layers.py): passes on the tree, and fails on
# copies of it with a deliberately wrong include (a layer using one above it,
# making a circle), with another folder's private header, and with a getenv()
# in the library.
set -u
src=$(cd "$(dirname "$0")/../.." && pwd)
. "$src/tests/check_lib.sh"
py=${PYTHON:-python3}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

check "tree" 0 "layering: ok" -- "$py" "$src/tools/check_layers.py" "$src"

copy() { rm -rf "$tmp/t"; mkdir -p "$tmp/t"; cp -r "$src/src" "$src/include" "$tmp/t/"; }

copy
printf '#include "clresnet/train/train.h"\n' >> "$tmp/t/src/core/clock.c"
check "upward include" 1 'src/core/clock.c:[0-9]*: core includes "clresnet/train/train.h" from train' -- \
    "$py" "$src/tools/check_layers.py" "$tmp/t"
check "upward include makes a circle" 1 "circle between folders" -- "$py" "$src/tools/check_layers.py" "$tmp/t"

copy
printf '#include "clresnet/eval/evaluate.h"\n' >> "$tmp/t/include/clresnet/nn/model.h"
check "upward include in a public header" 1 'include/clresnet/nn/model.h:[0-9]*: nn includes' -- \
    "$py" "$src/tools/check_layers.py" "$tmp/t"

copy
printf '#include "../ops/ops_impl.h"\n' >> "$tmp/t/src/nn/exec.c"
check "private header" 1 "another folder's private header" -- "$py" "$src/tools/check_layers.py" "$tmp/t"

copy
mkdir -p "$tmp/t/src/extra" && printf '#include "clresnet/core/clock.h"\n' > "$tmp/t/src/extra/x.c"
check "unknown folder" 1 "not in the layer order" -- "$py" "$src/tools/check_layers.py" "$tmp/t"

copy
printf '#include "onnx.pb-c.h"\n' >> "$tmp/t/src/eval/metrics.c"
check "generated header outside its folder" 1 '"onnx.pb-c.h" is generated for nn; eval may not include it' -- \
    "$py" "$src/tools/check_layers.py" "$tmp/t"

copy
printf 'static const char *dir(void) { return getenv("HOME"); }\n' >> "$tmp/t/src/ops/gemm.c"
check "environment read in the library" 1 'src/ops/gemm.c:[0-9]*: getenv() in the library (ops)' -- \
    "$py" "$src/tools/check_layers.py" "$tmp/t"

exit $fail
