#!/bin/bash
# The report's comparison on a GPU box: resnet50 relu / leaky / silu /
# relu no-final-act, plain50 and the baseline, a few epochs each at 64 px,
# then `clresnet compare`. Expects .gpurun/ as tools/gpu_side_by_side.sh;
# writes $OUT/compare.tar.gz (run folders without checkpoints).
set -u
ROOT=$PWD R=.gpurun DATA=${DATA:-.gpurun/f80} OUT=${OUT:-/tmp/gpu-out} EPOCHS=${EPOCHS:-3}
mkdir -p "$OUT" /tmp/gl /tmp/cmp
tar xJf $R/gpulibs.tar.xz -C /tmp/gl
. tools/gpu_env.sh /tmp/gl/lib
C="$R/clresnet --device gpu --quiet"
T="train --data $DATA --image-size 64 --epochs $EPOCHS --workers 14"
$C $T --model resnet50 --act relu --out /tmp/cmp/resnet50-relu
$C $T --model resnet50 --act leaky --out /tmp/cmp/resnet50-leaky
$C $T --model resnet50 --act silu --out /tmp/cmp/resnet50-silu
$C $T --model resnet50 --act relu --no-final-act --out /tmp/cmp/resnet50-relu-nfa
$C $T --model plain50 --act relu --out /tmp/cmp/plain50-relu
$C $T --model baseline --act relu --out /tmp/cmp/baseline-relu
cd /tmp/cmp && "$ROOT/$R/clresnet" compare resnet50-relu resnet50-leaky resnet50-silu resnet50-relu-nfa plain50-relu \
    baseline-relu --out /tmp/cmp
tar czf "$OUT/compare.tar.gz" -C /tmp/cmp --exclude='*.safetensors' --exclude='predictions.csv' .
