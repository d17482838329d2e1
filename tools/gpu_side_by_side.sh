#!/bin/bash
# Issue 6's side-by-side runs on a GPU box: clresnet trains on the GPU, the
# reference tools/seed_torch.py (PyTorch, CPU threads) on the same machine,
# same data and settings. Expects .gpurun/ with clresnet, gpulibs.tar.xz
# (tools/gpu_bundle.sh's lib/ folder, packed), the dataset folder DATA and
# seed_torch.py; writes $OUT/results.tar.gz.
set -u
R=.gpurun DATA=${DATA:-.gpurun/f80} OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT" /tmp/gl /tmp/runs
tar xJf $R/gpulibs.tar.xz -C /tmp/gl
. tools/gpu_env.sh /tmp/gl/lib
C="$R/clresnet --device gpu --quiet"
$C train --data "$DATA" --model baseline --image-size 64 --epochs 12 --workers 14 --out /tmp/runs/baseline-relu 2>&1
$C train --data "$DATA" --model resnet50 --image-size 64 --epochs 3 --workers 14 --out /tmp/runs/resnet50-relu 2>&1
for r in baseline-relu resnet50-relu; do echo "== clresnet $r"; cat /tmp/runs/$r/log.csv; done
tar czf "$OUT/clresnet.tar.gz" -C /tmp/runs --exclude='*.safetensors' --exclude='*.svg' --exclude='report.html' \
    --exclude='predictions.csv' .
PYTHONUNBUFFERED=1 timeout 150 python3 $R/seed_torch.py "$DATA" --model resnet50 --crop 64 --epochs 3 --threads 16 \
    > /tmp/runs/torch-resnet50.jsonl 2>&1
PYTHONUNBUFFERED=1 timeout 200 python3 $R/seed_torch.py "$DATA" --model baseline --crop 64 --epochs 12 --threads 16 \
    > /tmp/runs/torch-baseline.jsonl 2>&1
tar czf "$OUT/results.tar.gz" -C /tmp/runs --exclude='*.safetensors' --exclude='*.svg' --exclude='report.html' \
    --exclude='predictions.csv' .
cat /tmp/runs/torch-*.jsonl
nproc; nvidia-smi -L
tar czf "$OUT/results.tar.gz" -C /tmp/runs --exclude='*.safetensors' --exclude='*.svg' --exclude='report.html' \
    --exclude='predictions.csv' .
