#!/bin/sh
# One machine, one run: the same training step (model, batch, size, NAdam)
# timed in PyTorch on the CPU (threads = cores) and in clresnet on an
# OpenCL device, for the three configurations of the speed issue; prints
# both images/s and the ratio. usage:
#   tests/bench/side_by_side.sh [BUILD_DIR] [DEVICE]     (default: build, cpu)
# PyTorch from Debian: apt-get install python3-torch (run with /usr/bin/python3).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build} device=${2:-cpu}
py=${PYTHON:-/usr/bin/python3}
threads=$(nproc)
printf '%-28s %12s %12s %8s\n' configuration clresnet pytorch ratio
for cfg in "resnet50 64 32" "resnet50 224 8" "baseline 224 32"; do
    set -- $cfg
    ours=$("$build/clresnet" --quiet --device "$device" bench --model $1 --image-size $2 --batch-size $3 \
        --steps ${STEPS:-5} --warmup 2 --json | sed -n 's/.*"images_per_s":\([0-9.]*\).*/\1/p')
    theirs=$("$py" "$here/torch_step.py" --model $1 --image-size $2 --batch-size $3 --threads "$threads" \
        --steps ${STEPS:-5} --warmup 2 | sed -n 's/.*"images_per_s": \([0-9.]*\).*/\1/p')
    ratio=$(awk -v a="$ours" -v b="$theirs" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')
    printf '%-28s %12s %12s %8s\n' "$1 ${2}x$2 batch $3" "$ours" "$theirs" "$ratio"
done
