#!/bin/sh
# The three configurations of the speed issues on every OpenCL
# implementation of this machine's CPU that is present (PoCL; Mesa's rusticl;
# Intel's CPU runtime when tools/intel_opencl_cpu.sh has installed it), with
# PyTorch's CPU step in the same run: images/s of a whole training step
# (forward, loss, backward, NAdam) and each implementation's ratio to
# PyTorch and to PoCL. Nothing else may run beside it. usage:
#   tests/bench/side_by_side_all.sh [BUILD_DIR]
# STEPS (default 5) timed steps after 2 warm-up; SLOW_STEPS (default 1, no
# warm-up beyond the first) for implementations slower than 2 images/s.
# SKIP="rusticl intel" leaves implementations out.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
build=${1:-build}
py=${PYTHON:-/usr/bin/python3}
threads=$(nproc)
skip=${SKIP:-}

bench() { # ENVSETUP DEVICE MODEL SIZE BATCH STEPS WARMUP -> images/s
    sh -c "$1 \"$build/clresnet\" --quiet --device \"$2\" bench --model $3 --image-size $4 --batch-size $5 \
        --steps $6 --warmup $7 --json" 2>/dev/null | sed -n 's/.*"images_per_s":\([0-9.]*\).*/\1/p'
}

impls="pocl"
case " $skip " in *" rusticl "*) ;; *) impls="$impls rusticl" ;; esac
case " $skip " in *" intel "*) ;; *)
    if intel_env=$("$root/tools/intel_opencl_cpu.sh" 2>/dev/null) && [ -n "$intel_env" ]; then impls="$impls intel"; fi ;;
esac
env_for() {
    case $1 in
        pocl) echo "" ;;
        rusticl) echo "RUSTICL_ENABLE=llvmpipe" ;;
        intel) echo "$intel_env;" ;;
    esac
}

printf '%-22s %-9s %10s %10s %9s %9s\n' configuration impl clresnet pytorch x_torch x_pocl
for cfg in "resnet50 64 32" "resnet50 224 8" "baseline 224 32"; do
    set -- $cfg
    theirs=$("$py" "$here/torch_step.py" --model $1 --image-size $2 --batch-size $3 --threads "$threads" \
        --steps "${STEPS:-5}" --warmup 2 | sed -n 's/.*"images_per_s": \([0-9.]*\).*/\1/p')
    pocl=
    for impl in $impls; do
        e=$(env_for "$impl")
        ours=$(bench "$e" "$impl" $1 $2 $3 1 1)
        # a slow implementation gets one timed step; the others the full count
        if awk -v v="${ours:-0}" 'BEGIN { exit !(v >= 2) }'; then ours=$(bench "$e" "$impl" $1 $2 $3 "${STEPS:-5}" 2)
        else ours=$(bench "$e" "$impl" $1 $2 $3 "${SLOW_STEPS:-1}" 0); fi
        [ "$impl" = pocl ] && pocl=$ours
        printf '%-22s %-9s %10s %10s %9s %9s\n' "$1 ${2}x$2 b$3" "$impl" "${ours:-failed}" "$theirs" \
            "$(awk -v a="${ours:-0}" -v b="$theirs" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')" \
            "$(awk -v a="${ours:-0}" -v b="${pocl:-0}" 'BEGIN { printf "%.3f", (b > 0 ? a / b : 0) }')"
    done
done
