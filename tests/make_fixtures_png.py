#!/usr/bin/python3
"""PNG fixtures for tests/data/test_data_png.c (Debian's /usr/bin/python3, PIL 9.4, torch for fixture_io):
  tests/fixtures/png/*.png              tiny PNGs of every colour type and bit depth, interlaced ones,
                                        and bad files (truncated, a wrong IDAT or tEXt CRC, empty, not an image)
  tests/fixtures/png/pil_png.safetensors  PIL's Image.open(f).convert("RGB") of each good one, U8 [h, w, 3]
PIL writes what it can (8-bit RGB, RGBA, P, L, LA, 16-bit gray); PIL cannot write 16-bit colour,
low bit depths or Adam7, so those are written by png() below (plain zlib + struct). Either way the
expected pixels are what PIL reads back.
Run: /usr/bin/python3 tests/make_fixtures_png.py"""
import io
import os
import struct
import sys
import warnings
import zlib

import numpy as np
import torch
import PIL
from PIL import Image

sys.path.insert(0, os.path.dirname(__file__))
import fixture_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "png")
SIG = b"\x89PNG\r\n\x1a\n"
# Adam7: (x0, y0, dx, dy) of the 7 passes
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2), (0, 1, 1, 2)]


def chunk(kind, data):
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))


def rows(a, depth):
    """[h, w, c] samples -> packed scanlines (filter type 0 prepended)."""
    out = b""
    for r in a:
        if depth == 16:
            out += b"\0" + r.astype(">u2").tobytes()
        elif depth == 8:
            out += b"\0" + r.astype(np.uint8).tobytes()
        else:
            bits = "".join(format(int(v), "0%db" % depth) for v in r.reshape(-1))
            bits += "0" * (-len(bits) % 8)
            out += b"\0" + bytes(int(bits[i:i + 8], 2) for i in range(0, len(bits), 8))
    return out


def png(a, ctype, depth, interlace=False, plte=None, trns=None):
    """A PNG of samples a ([h, w] or [h, w, c]) with colour type ctype and bit depth depth."""
    a = np.asarray(a)
    if a.ndim == 2:
        a = a[:, :, None]
    h, w = a.shape[:2]
    if interlace:
        raw = b"".join(rows(a[y0::dy, x0::dx], depth) for x0, y0, dx, dy in ADAM7 if a[y0::dy, x0::dx].size)
    else:
        raw = rows(a, depth)
    b = SIG + chunk(b"IHDR", struct.pack(">IIBBBBB", w, h, depth, ctype, 0, 0, int(interlace)))
    if plte is not None:
        b += chunk(b"PLTE", bytes(np.asarray(plte, np.uint8).reshape(-1)))
    if trns is not None:
        b += chunk(b"tRNS", trns)
    return b + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def idat_span(data):
    """(start, end) of the first IDAT's data."""
    pos = 8
    while pos < len(data):
        n, kind = struct.unpack(">I4s", data[pos:pos + 8])
        if kind == b"IDAT":
            return pos + 8, pos + 8 + n
        pos += 12 + n
    raise ValueError("no IDAT")


def main():
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(2026)
    w, h = 11, 7

    def u8(*shape):
        return rng.integers(0, 256, shape, dtype=np.uint8)

    files = {}

    def pil(name, im, **kw):
        buf = io.BytesIO()
        im.save(buf, format="PNG", **kw)
        files[name] = buf.getvalue()

    pil("rgb", Image.fromarray(u8(h, w, 3), "RGB"))
    rgba = u8(h, w, 4)
    rgba[0, :4, 3] = 0  # fully transparent pixels keep their colour in PIL's RGB
    pil("rgba", Image.fromarray(rgba, "RGBA"))
    pal = Image.fromarray(rng.integers(0, 6, (h, w), dtype=np.uint8), "P")
    pal.putpalette(list(u8(6 * 3)))
    pil("palette", pal)
    pil("palette_trns", pal, transparency=bytes([0, 128, 255, 7]))
    pil("gray", Image.fromarray(u8(h, w), "L"))
    pil("gray_alpha", Image.fromarray(u8(h, w, 2), "LA"))
    pil("rgb_trns", Image.fromarray(u8(h, w, 3), "RGB"), transparency=(1, 2, 3))
    g16 = rng.integers(0, 65536, (h, w)).astype(np.uint16)
    g16[0, :6] = [0, 1, 200, 255, 256, 65535]  # PIL clamps to 255, it does not shift
    pil("gray16", Image.fromarray(g16, "I;16"))
    # what PIL cannot write
    files["rgb16"] = png(rng.integers(0, 65536, (h, w, 3)), 2, 16)
    files["rgba16"] = png(rng.integers(0, 65536, (h, w, 4)), 6, 16)
    files["gray_alpha16"] = png(rng.integers(0, 65536, (h, w, 2)), 4, 16)
    files["gray2"] = png(rng.integers(0, 4, (h, w)), 0, 2)
    files["gray1_trns"] = png(rng.integers(0, 2, (h, w)), 0, 1, trns=b"\0\1")
    # 4-bit palette with 5 PLTE entries and indexes up to 15: PIL shows (i, i, i) past the PLTE
    files["palette4_short"] = png(rng.integers(0, 16, (h, w)), 3, 4, plte=u8(5, 3))
    iw, ih = 9, 7  # every Adam7 pass non-empty (needs 5 x 5)
    files["interlaced_rgb"] = png(u8(ih, iw, 3), 2, 8, interlace=True)
    files["interlaced_palette2"] = png(rng.integers(0, 4, (ih, iw)), 3, 2, interlace=True, plte=u8(4, 3))
    files["interlaced_gray16"] = png(rng.integers(0, 300, (ih, iw)), 0, 16, interlace=True)
    files["interlaced_rgba16"] = png(rng.integers(0, 65536, (ih, iw, 4)), 6, 16, interlace=True)
    # no IEND: every row is there, PIL and the engine decode it
    files["no_iend"] = files["rgb"][: files["rgb"].rindex(b"IEND") - 4]

    expected = {}
    for name, data in files.items():
        im = Image.open(io.BytesIO(data))
        with warnings.catch_warnings():  # PIL suggests RGBA for palette_trns; RGB is the point here
            warnings.simplefilter("ignore")
            expected["decode." + name] = torch.from_numpy(np.asarray(im.convert("RGB"), dtype=np.uint8).copy())
        with open(os.path.join(OUT, name + ".png"), "wb") as f:
            f.write(data)
    assert Image.open(io.BytesIO(files["gray16"])).mode == "I"
    assert Image.open(io.BytesIO(files["rgb16"])).mode == "RGB"

    # bad files
    good = files["rgb"]
    s, e = idat_span(good)
    bad = {
        "truncated": good[: (s + e) // 2],
        "badcrc": good[:e] + bytes([good[e] ^ 0x01]) + good[e + 1:],  # the IDAT's CRC, data intact
        # a tEXt chunk with a wrong CRC before IDAT: PIL refuses it too
        "badcrc_text": good[:s - 8] + chunk(b"tEXt", b"Comment\0x")[:-1] + b"\0" + good[s - 8:],
        "empty": b"",
        "notimage": b"plain text, not an image\n",
    }
    try:
        Image.open(io.BytesIO(bad["badcrc_text"])).load()
        raise AssertionError("PIL decoded badcrc_text")
    except OSError:  # PIL: "cannot identify image file" (a bad checksum while opening)
        pass
    for name, data in bad.items():
        with open(os.path.join(OUT, name + ".png"), "wb") as f:
            f.write(data)
    fixture_io.save(os.path.join(OUT, "pil_png.safetensors"), expected,
                    {"made_by": "tests/make_fixtures_png.py", "pil": PIL.__version__})
    total = sum(os.path.getsize(os.path.join(OUT, f)) for f in os.listdir(OUT))
    print("wrote %d PNGs, %d bad files and pil_png.safetensors to %s (%d bytes)" %
          (len(files), len(bad), OUT, total))


if __name__ == "__main__":
    main()
