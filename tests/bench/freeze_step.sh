#!/bin/sh
# Fine-tuning's step with and without frozen stages: torchvision's ResNet50
# (resnet50-tv) at 224 px batch 32, the whole model trained against layer3
# and everything before it frozen (`bench --freeze layer3`), in clresnet and
# in PyTorch on the CPU (threads = cores), alternating ROUNDS times; prints
# images/s and milliseconds per step. usage:
#   tests/bench/freeze_step.sh [BUILD_DIR] [DEVICE]      (default: build, cpu)
# PYTHON: a python with torch and torchvision (e.g. a venv: pip install torch
# torchvision); without torchvision the PyTorch column is left out.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build} device=${2:-cpu}
py=${PYTHON:-python3} size=${SIZE:-224} batch=${BATCH:-32} steps=${STEPS:-3}
threads=$(nproc)
"$py" -c 'import torchvision' 2>/dev/null || py=
# the GEMM plans of both workloads measured first, outside the timings
for f in "" "--freeze layer3"; do
    "$build/clresnet" --quiet --device "$device" bench --model resnet50-tv $f --image-size "$size" \
        --batch-size "$batch" --steps 1 --warmup 0 --json > /dev/null
done
# images/s and the median step of a bench / torch_step.py JSON line
show() { echo "$1" | sed -n 's/.*"median_step_s": *\([0-9.]*\).*"images_per_s": *\([0-9.]*\).*/\2 img\/s \1 s/p'; }
printf '%-8s %-16s %24s %24s\n' round step clresnet pytorch
for r in $(seq 1 "${ROUNDS:-2}"); do
    for f in "" "layer3"; do
        ours=$("$build/clresnet" --quiet --device "$device" bench --model resnet50-tv ${f:+--freeze $f} \
            --image-size "$size" --batch-size "$batch" --steps "$steps" --warmup 1 --json)
        theirs=
        [ -z "$py" ] || theirs=$("$py" "$here/torch_step.py" --model resnet50-tv ${f:+--freeze $f} --image-size "$size" \
            --batch-size "$batch" --threads "$threads" --steps "$steps" --warmup 1)
        label="all trained"
        [ -z "$f" ] || label="frozen to $f"
        printf '%-8s %-16s %24s %24s\n' "$r" "$label" "$(show "$ours")" "$(show "$theirs")"
    done
done
