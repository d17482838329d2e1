#!/bin/sh
# Each distinct ResNet50 convolution timed in clresnet (`bench --convs`: the
# GEMM path the device gets, packing and gathering included) and in PyTorch
# (F.conv2d, oneDNN on CPUs, threads = cores) in one run on one machine:
# GFLOP/s forward and backward (dx + dW) and the ratios. usage:
#   tests/bench/conv_side_by_side.sh [BUILD_DIR] [DEVICE]   (default: build, cpu)
# env: BATCH (8), SIZE (224), STEPS (5). PyTorch from Debian (python3-torch).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
build=${1:-build} device=${2:-cpu}
py=${PYTHON:-/usr/bin/python3}
ours=$(mktemp)
trap 'rm -f "$ours"' EXIT
# one after the other: nothing else may run beside a benchmark
"$build/clresnet" --quiet --device "$device" bench --convs --json --batch-size "${BATCH:-8}" \
    --image-size "${SIZE:-224}" --steps "${STEPS:-5}" >"$ours"
"$py" "$here/torch_conv.py" --threads "$(nproc)" --steps "${STEPS:-5}" <"$ours" |
    "$py" -c '
import json, sys
print("%-18s %9s %9s %6s   %9s %9s %6s" % ("shape (batch %s)" % "'"${BATCH:-8}"'", "fwd ours", "torch", "ratio",
                                          "bwd ours", "torch", "ratio"))
rows = [json.loads(l) for l in sys.stdin]
for s in rows:
    name = "%d>%d %dx%d/%d %d" % (s["cin"], s["cout"], s["k"], s["k"], s["stride"], s["h"])
    print("%-18s %9.1f %9.1f %6.2f   %9.1f %9.1f %6.2f" % (name, s["fwd_gflops"], s["torch_fwd_gflops"],
          s["fwd_gflops"] / s["torch_fwd_gflops"], s["bwd_gflops"], s["torch_bwd_gflops"],
          s["bwd_gflops"] / s["torch_bwd_gflops"]))
ours = sum(s["fwd_ms"] + s["bwd_ms"] for s in rows)
def ms(s, key, mult):
    fl = 2.0 * s["n"] * s["cout"] * s["cin"] * s["k"] ** 2 * ((s["h"] + 2 * s["pad"] - s["k"]) // s["stride"] + 1) ** 2
    return fl * mult / (s[key] * 1e9) * 1e3
theirs = sum(ms(s, "torch_fwd_gflops", 1) + ms(s, "torch_bwd_gflops", 2 if s["dx"] else 1) for s in rows)
print("all shapes once, forward + backward: %.1f ms ours, %.1f ms torch, ratio %.2f" % (ours, theirs, theirs / ours))
'
