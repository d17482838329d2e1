#!/bin/bash
# The device check for an NVIDIA box with only the driver (docs/gpu.md):
# point the ICD loader at NVIDIA's OpenCL library, list and check devices,
# run the device tests on the GPU, then bench clresnet and PyTorch CUDA on
# the same card. Expects .gpu/ from tools/gpu_bundle.sh; writes to $OUT.
set -u
OUT=${OUT:-/tmp/gpu-out}
mkdir -p "$OUT"
nvidia-smi -L; ls /etc/OpenCL/vendors 2>/dev/null
. tools/gpu_env.sh "$PWD/.gpu/lib"
export CLRESNET_FIXTURES=$PWD/tests/fixtures CLRESNET_TEST_DEVICE=gpu
B=.gpu/bin
$B/clresnet list-devices --check 2>&1 | tee "$OUT/devices.txt"
for t in runtime ops batchnorm conv_linear optim model weights; do
    [ -x $B/test_$t ] || continue
    /usr/bin/time -f "test_$t %e s" timeout 300 $B/test_$t 2>&1 | tail -n 3
done 2>&1 | tee "$OUT/tests.txt"
for cfg in "resnet50 224 32" "resnet50 64 32" "baseline 224 32"; do
    set -- $cfg
    timeout 200 $B/clresnet --device gpu bench --model $1 --image-size $2 --batch-size $3 --steps 10 2>&1 |
        tee -a "$OUT/bench.txt"
    timeout 200 python3 tests/bench/torch_step.py --device cuda --model $1 --image-size $2 --batch-size $3 \
        --steps 20 2>&1 | tee -a "$OUT/bench.txt"
done
