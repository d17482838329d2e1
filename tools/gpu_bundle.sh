#!/bin/sh
# Collects clresnet, its test programs and every library they need beyond
# glibc into one folder, for a GPU box that has only the vendor's driver
# (docs/gpu.md). usage: tools/gpu_bundle.sh BUILD_DIR OUT_DIR
set -eu
build=$1 out=$2
mkdir -p "$out/bin" "$out/lib"
cp "$build/clresnet" "$out/bin/"
for t in "$build"/tests/test_*; do [ -x "$t" ] && [ -f "$t" ] && cp "$t" "$out/bin/"; done
ldd "$build/clresnet" "$out"/bin/test_* 2>/dev/null | awk '/=> \//{print $3}' | sort -u |
    grep -v -E '/(libc|libm|libpthread|libdl|librt|ld-linux[^/]*)\.so' |
    while read -r lib; do cp -L "$lib" "$out/lib/"; done
du -sh "$out"
