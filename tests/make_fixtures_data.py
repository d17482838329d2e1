#!/usr/bin/python3
"""Fixtures for the data pipeline tests (tests/data/test_data_*.c), made with PIL,
torchvision and scipy (Debian's /usr/bin/python3):
  tests/fixtures/data/jpeg/*.jpg      colour, grayscale, CMYK, progressive, truncated, empty, not-a-JPEG
  tests/fixtures/data/pil.safetensors PIL's decoded RGB of each valid JPEG, PIL resizes (bilinear),
                                      ImageEnhance / rotate / grayscale results and a torchvision
                                      eval pipeline (Resize, CenterCrop, ToTensor, Normalize)
  tests/fixtures/data/mat/*.mat       copies of the official Flowers-102 .mat files and malformed ones
Run: /usr/bin/python3 tests/make_fixtures_data.py"""
import io
import os
import shutil
import sys

import numpy as np
import scipy.io
import torch
import torchvision.transforms as T
from PIL import Image, ImageEnhance

sys.path.insert(0, os.path.dirname(__file__))
import fixture_io  # noqa: E402

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures", "data")
JPG = os.path.join(OUT, "jpeg")
MAT = os.path.join(OUT, "mat")
OFFICIAL = "/work/shared/data/flowers-102-s128"


def synth(w, h, seed):
    """A smooth colourful picture with some noise and edges (JPEG-friendly, not trivial)."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 128 + 100 * np.sin(x / 7.0 + seed) * np.cos(y / 11.0)
    g = 128 + 90 * np.cos((x + y) / 9.0)
    b = 255 * (x / max(w - 1, 1)) * (y > h / 3)
    a = np.stack([r, g, b], -1) + rng.normal(0, 12, (h, w, 3))
    return Image.fromarray(np.clip(a, 0, 255).astype(np.uint8), "RGB")


def u8(img):
    return torch.from_numpy(np.asarray(img.convert("RGB"), dtype=np.uint8).copy())


def main():
    os.makedirs(JPG, exist_ok=True)
    os.makedirs(MAT, exist_ok=True)
    t = {}
    # ---- JPEG fixtures ----
    synth(61, 47, 1).save(os.path.join(JPG, "color.jpg"), quality=90)
    synth(40, 33, 2).convert("L").save(os.path.join(JPG, "gray.jpg"), quality=90)
    synth(30, 20, 3).convert("CMYK").save(os.path.join(JPG, "cmyk.jpg"), quality=90)
    synth(50, 38, 4).save(os.path.join(JPG, "progressive.jpg"), quality=90, progressive=True)
    synth(200, 150, 5).save(os.path.join(JPG, "big.jpg"), quality=90)
    synth(96, 160, 6).save(os.path.join(JPG, "tall.jpg"), quality=90)
    data = open(os.path.join(JPG, "color.jpg"), "rb").read()
    open(os.path.join(JPG, "truncated.jpg"), "wb").write(data[: len(data) // 2])
    open(os.path.join(JPG, "empty.jpg"), "wb").close()
    buf = io.BytesIO()
    synth(8, 8, 7).save(buf, format="PNG")
    open(os.path.join(JPG, "notjpeg.jpg"), "wb").write(buf.getvalue())
    for name in ["color", "gray", "cmyk", "progressive", "big", "tall"]:
        im = Image.open(os.path.join(JPG, name + ".jpg"))
        im.load()
        t["decode." + name] = u8(im)
    # ---- PIL resizes (bilinear, antialiased), [oh, ow, 3] ----
    cases = [("color", 23, 17), ("color", 35, 26), ("color", 90, 69), ("color", 100, 30), ("big", 97, 73),
             ("big", 40, 30), ("big", 17, 12), ("tall", 73, 121), ("gray", 20, 16), ("cmyk", 61, 41),
             ("progressive", 50, 20), ("big", 200, 73)]
    for k, (name, ow, oh) in enumerate(cases):
        im = Image.open(os.path.join(JPG, name + ".jpg")).convert("RGB")
        t["resize.%02d.%s" % (k, name)] = u8(im.resize((ow, oh), Image.BILINEAR))
    # ---- colour and geometry ops on the colour image ----
    im = Image.open(os.path.join(JPG, "color.jpg")).convert("RGB")
    t["op.brightness_1.15"] = u8(ImageEnhance.Brightness(im).enhance(1.15))
    t["op.brightness_0.83"] = u8(ImageEnhance.Brightness(im).enhance(0.83))
    t["op.contrast_0.85"] = u8(ImageEnhance.Contrast(im).enhance(0.85))
    t["op.contrast_1.2"] = u8(ImageEnhance.Contrast(im).enhance(1.2))
    t["op.saturation_1.2"] = u8(ImageEnhance.Color(im).enhance(1.2))
    t["op.saturation_0.8"] = u8(ImageEnhance.Color(im).enhance(0.8))
    t["op.grayscale"] = u8(im.convert("L"))
    t["op.rotate_10"] = u8(im.rotate(10.0, Image.NEAREST, expand=False, fillcolor=0))
    t["op.rotate_-13"] = u8(im.rotate(-13.0, Image.NEAREST, expand=False, fillcolor=0))
    # ---- torchvision eval pipeline: S=64, R=round(64*256/224)=73 ----
    norm = T.Normalize((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
    for name in ["big", "tall"]:
        im = Image.open(os.path.join(JPG, name + ".jpg")).convert("RGB")
        tf = T.Compose([T.Resize(73), T.CenterCrop(64), T.ToTensor(), norm])
        t["eval64." + name] = tf(im).float()
    fixture_io.save(os.path.join(OUT, "pil.safetensors"), t, {"made_by": "tests/make_fixtures_data.py"})

    # ---- .mat files ----
    shutil.copyfile(os.path.join(OFFICIAL, "imagelabels.mat"), os.path.join(MAT, "imagelabels.mat"))
    shutil.copyfile(os.path.join(OFFICIAL, "setid.mat"), os.path.join(MAT, "setid.mat"))

    def save(name, d):
        scipy.io.savemat(os.path.join(MAT, name), d, do_compression=True, oned_as="row")

    labels = np.array([[(i % 5) + 1 for i in range(20)]], dtype=np.float64)
    save("labels_small.mat", {"labels": labels})
    save("labels_uint8.mat", {"labels": labels.astype(np.uint8)})
    bad = labels.copy(); bad[0, 4] = 103
    save("labels_range.mat", {"labels": bad})
    bad = labels.copy(); bad[0, 6] = 2.5
    save("labels_frac.mat", {"labels": bad})
    bad = labels.copy(); bad[0, 3] = 0
    save("labels_zero.mat", {"labels": bad})
    save("labels_missing.mat", {"lbls": labels})
    save("labels_matrix.mat", {"labels": labels.reshape(4, 5)})
    trn = np.array([[1, 2, 3, 4, 5]], dtype=np.float64)
    val = np.array([[6, 7, 8, 9, 10]], dtype=np.float64)
    tst = np.array([[11, 12, 13, 14, 15, 16, 17, 18, 19, 20]], dtype=np.float64)
    save("setid_small.mat", {"trnid": trn, "valid": val, "tstid": tst})
    save("setid_two_splits.mat", {"trnid": trn, "valid": val, "tstid": np.array([[11, 12, 7, 14.0]])})
    save("setid_twice.mat", {"trnid": np.array([[1, 2, 3, 2.0]]), "valid": val, "tstid": tst})
    save("setid_empty.mat", {"trnid": trn, "valid": np.zeros((1, 0)), "tstid": tst})
    save("setid_range.mat", {"trnid": trn, "valid": val, "tstid": np.array([[11, 12, 21.0]])})
    save("setid_frac.mat", {"trnid": trn, "valid": np.array([[6, 7.5]]), "tstid": tst})
    save("setid_missing.mat", {"trnid": trn, "valid": val})
    open(os.path.join(MAT, "not_a_mat.mat"), "w").write("this is not a MATLAB file\n" * 8)


if __name__ == "__main__":
    main()
