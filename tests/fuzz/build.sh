#!/bin/sh
# Builds the libFuzzer harnesses with clang (ASan + UBSan) into OUT (default /tmp/clresnet-fuzz).
# Usage: tests/fuzz/build.sh [OUT]   (run from the repository root)
set -e
OUT=${1:-/tmp/clresnet-fuzz}
mkdir -p "$OUT"
CC=${CC:-clang}
FLAGS="-g -O1 -std=c11 -D_POSIX_C_SOURCE=200809L -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined -Iinclude $(pkg-config --cflags matio)"
LIBS="$(pkg-config --libs libjpeg jansson matio) -lpthread -lm"
SRC="src/data/dataset.c src/data/imagefolder.c src/data/flowers102.c src/data/jpeg.c src/data/transforms.c src/runtime/error.c"
$CC $FLAGS tests/fuzz/fuzz_mat.c $SRC $LIBS -o "$OUT/fuzz_mat"
$CC $FLAGS tests/fuzz/fuzz_jpeg.c $SRC $LIBS -o "$OUT/fuzz_jpeg"
echo "built $OUT/fuzz_mat $OUT/fuzz_jpeg"
