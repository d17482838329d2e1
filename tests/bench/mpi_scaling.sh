#!/bin/sh
# Data-parallel scaling: training images/s of 1 rank at global batch G and of
# K ranks at G/K each (the same global batch, so the same optimisation), on
# the same data. Opt-in benchmark (needs Open MPI and a real dataset).
# Usage: tests/bench/mpi_scaling.sh DATA [MODEL] [IMAGE_SIZE] [GLOBAL_BATCH] [STEPS] [K] [DEVICE]
#   e.g. tests/bench/mpi_scaling.sh ../shared/data/flowers-102-s128 baseline 64 32 40 2 cpu
# Every rank reads DATA; with one GPU per rank use DEVICE gpu (local rank r
# takes GPU r). Prints one line per configuration; the run folders stay in
# $OUT (default /tmp/clresnet-mpi-scaling).
set -eu
DATA=$1 MODEL=${2:-baseline} S=${3:-64} G=${4:-32} STEPS=${5:-40} K=${6:-2} DEV=${7:-cpu}
C=${CLRESNET:-$(dirname "$0")/../../build/clresnet}
OUT=${OUT:-/tmp/clresnet-mpi-scaling}
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
rm -rf "$OUT"
mkdir -p "$OUT"
ARGS="--data $DATA --model $MODEL --image-size $S --max-steps $STEPS --epochs 1 --seed 1"
echo "machine: $(nproc) cores, $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //')"
run() { # NAME RANKS BIND
    name=$1 k=$2
    if [ "$k" -eq 1 ]; then
        $C --device "$DEV" --quiet train $ARGS --batch-size "$G" --out "$OUT/$name" > "$OUT/$name.log" 2>&1
    else
        mpirun -np "$k" --oversubscribe --bind-to "$3" $C --device "$DEV" --quiet train $ARGS \
            --batch-size $((G / k)) --out "$OUT/$name" > "$OUT/$name.log" 2>&1
    fi
    ips=$(sed -n 's/.* \([0-9.]*\) training images\/s/\1/p' "$OUT/$name.log")
    ar=$(sed -n 's/.*all-reduces took \([0-9.]*\) s.*/\1/p' "$OUT/$name.log")
    loss=$(tail -n 1 "$OUT/$name/steps.csv" | cut -d, -f3)
    echo "$name: $k rank(s) x batch $((G / k)), $STEPS steps of $MODEL ${S}px: $ips images/s" \
         "${ar:+(all-reduce $ar s on rank 0) }last step loss $loss"
}
run one 1 none
run "k$K-unbound" "$K" none
run "k$K-cores" "$K" core
