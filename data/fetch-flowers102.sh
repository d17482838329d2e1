#!/bin/sh
# Downloads Oxford Flowers-102 (https://www.robots.ox.ac.uk/~vgg/data/flowers/102/)
# into DEST (default: data/flowers-102) in the official layout that
# `clresnet train --data DEST` reads: DEST/jpg/image_00001.jpg .. image_08189.jpg,
# DEST/imagelabels.mat, DEST/setid.mat (and cat_to_name.json copied from this
# folder's sample when present). Every file's md5 sum is checked.
# Usage: data/fetch-flowers102.sh [DEST]
set -eu

BASE=https://www.robots.ox.ac.uk/~vgg/data/flowers/102
HERE=$(cd "$(dirname "$0")" && pwd)
DEST=${1:-$HERE/flowers-102}

# md5 sums of the official files
MD5_TGZ=52808999861908f626f3c1f4e79d11fa
MD5_LABELS=e0620be6f572b9609742df49c70aed4d
MD5_SETID=a5357ecc9cb78c4bef273ce3793fc85c

fetch() { # url out
    if command -v curl >/dev/null 2>&1; then
        curl -fL --retry 3 -o "$2.part" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -O "$2.part" "$1"
    else
        echo "fetch-flowers102: need curl or wget" >&2
        exit 1
    fi
    mv "$2.part" "$2"
}

check() { # file md5
    got=$(md5sum "$1" | cut -d' ' -f1)
    if [ "$got" != "$2" ]; then
        echo "fetch-flowers102: $1: md5 $got, expected $2 (damaged or changed download; delete it and retry)" >&2
        exit 1
    fi
    echo "ok  $1 ($2)"
}

mkdir -p "$DEST"
cd "$DEST"
for f in 102flowers.tgz imagelabels.mat setid.mat; do
    [ -s "$f" ] || fetch "$BASE/$f" "$f"
done
check 102flowers.tgz "$MD5_TGZ"
check imagelabels.mat "$MD5_LABELS"
check setid.mat "$MD5_SETID"
if [ ! -f jpg/image_08189.jpg ]; then
    tar -xzf 102flowers.tgz # unpacks jpg/
fi
n=$(ls jpg | grep -c '^image_[0-9]*\.jpg$')
if [ "$n" -ne 8189 ]; then
    echo "fetch-flowers102: $DEST/jpg holds $n images, expected 8189" >&2
    exit 1
fi
if [ -f "$HERE/cat_to_name.json" ] && [ ! -f cat_to_name.json ]; then
    cp "$HERE/cat_to_name.json" .
fi
echo "Flowers-102 ready in $DEST (8189 images)"
