#!/bin/sh
# Builds the libFuzzer harnesses with clang (ASan + UBSan) into OUT (default /tmp/clresnet-fuzz).
# Usage: tests/fuzz/build.sh [OUT]   (run from the repository root)
# The safetensors, checkpoint and command-line harnesses compile the code they
# fuzz (with coverage) and take the rest of the engine from the sanitizer
# build's libclresnet.a (LIB, default build-asan/libclresnet.a: run
# tests/sanitize_check.sh or `ninja -C build-asan` first).
set -e
OUT=${1:-/tmp/clresnet-fuzz}
mkdir -p "$OUT"
CC=${CC:-clang}
LIB=${LIB:-build-asan/libclresnet.a}
FLAGS="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -DCL_TARGET_OPENCL_VERSION=120 -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude $(pkg-config --cflags matio zlib libpng)"
LIBS="$(pkg-config --libs libjpeg libpng jansson matio zlib) -lpthread -lm"
CORE="src/core/error.c src/core/rng.c src/core/hash.c src/core/clock.c src/core/file_util.c"
# The image transforms (per-pixel loops that every decoded JPEG/PNG goes
# through) are built without libFuzzer's comparison tracing (trace-cmp): its
# hooks on every loop compare took ~60% of fuzz_png's time. They keep ASan,
# UBSan and edge coverage; the decoders and parsers keep trace-cmp.
$CC $FLAGS -fno-sanitize-coverage=trace-cmp -c src/data/transforms.c -o "$OUT/transforms.o"
SRC="src/data/dataset.c src/data/imagefolder.c src/data/flowers102.c src/data/image.c src/data/jpeg.c src/data/png.c $OUT/transforms.o $CORE"
$CC $FLAGS tests/fuzz/fuzz_mat.c $SRC $LIBS -o "$OUT/fuzz_mat"
$CC $FLAGS tests/fuzz/fuzz_jpeg.c $SRC $LIBS -o "$OUT/fuzz_jpeg"
$CC $FLAGS tests/fuzz/fuzz_png.c $SRC $LIBS -o "$OUT/fuzz_png"
$CC $FLAGS tests/fuzz/fuzz_classnames.c $SRC $LIBS -o "$OUT/fuzz_classnames"
if [ -f "$LIB" ]; then
    # the engine library links MPI when its build found it
    ENGINE="$LIB $(pkg-config --libs OpenCL clblast) $(pkg-config --libs mpi 2>/dev/null || true) $LIBS"
    $CC $FLAGS tests/fuzz/fuzz_safetensors.c src/io/safetensors.c $CORE $ENGINE -o "$OUT/fuzz_safetensors"
    $CC $FLAGS tests/fuzz/fuzz_checkpoint.c src/train/checkpoint.c src/io/safetensors.c $CORE $ENGINE \
        -o "$OUT/fuzz_checkpoint"
    # cli_args.c without trace-cmp: the "did you mean" edit distance
    # (cli_suggest_flag), run for every unknown flag, spent ~60% of fuzz_cli's
    # time in the comparison hooks (3,600 exec/s). Edges, ASan and UBSan stay;
    # strcmp and memcmp still feed libFuzzer through the sanitizer interceptors.
    $CC $FLAGS -fno-sanitize-coverage=trace-cmp -c src/cli/cli_args.c -o "$OUT/cli_args.o"
    $CC $FLAGS tests/fuzz/fuzz_cli.c src/cli/cli_train.c src/cli/cli_train_args.c "$OUT/cli_args.o" $ENGINE -o "$OUT/fuzz_cli"
    echo "built $OUT/fuzz_{mat,jpeg,png,classnames,safetensors,checkpoint,cli}"
else
    echo "built $OUT/fuzz_{mat,jpeg,png,classnames}; $LIB missing: no fuzz_safetensors, fuzz_checkpoint, fuzz_cli"
fi
