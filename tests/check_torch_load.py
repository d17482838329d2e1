#!/usr/bin/env python3
"""Opt-in check (not run by meson): a clresnet checkpoint is a PyTorch state
dict. It loads into the modules of tools/seed_torch.py with
load_state_dict(strict=True) once the optimiser's "optim.*" tensors are
dropped, and in eval mode PyTorch then predicts what clresnet predicts.

  1. RUN|CHECKPOINT: a run folder (its best.safetensors) or a checkpoint;
     with --train and a RUN folder that does not exist yet, a short run is
     trained there first (clresnet train --model baseline --image-size 64
     --epochs 1 --data DATA);
  2. the file is read with the `safetensors` library (not clresnet's reader),
     the model rebuilt from its metadata (model, act, final_act, classes,
     width 1: seed_torch.MODELS; another width: the width-scaled copy in
     tests/make_fixtures_model.py) and loaded with strict=True;
  3. `clresnet evaluate CHECKPOINT --data DATA --split SPLIT` writes
     predictions.csv (each image's top-5 classes and softmax probabilities,
     6 decimals) and metrics.json (the split's mean cross-entropy);
  4. PyTorch evaluates the same files with torchvision's eval transform (as
     seed_torch.py: Resize(round(S * 256 / 224)), CenterCrop(S), ToTensor,
     ImageNet Normalize) on PIL images. clresnet's transforms reproduce
     Pillow's (docs: include/clresnet/data/transforms.h), except that
     clresnet lets libjpeg decode a large JPEG at a reduced scale num/8;
     PIL's draft() does the same for num = 1, 2, 4, so those images are
     decoded alike, and images that would need num = 3, 5, 6 or 7 are left
     out (and counted);
  5. prints the largest |p_clresnet - p_torch| over every listed class of
     every image, the largest difference of their logarithms, the top-1 and
     top-5 agreement and the mean-loss difference; exits 1 when a
     probability differs by more than --tol (default 1e-4; the printed
     probabilities carry 5e-7 of rounding) or the losses by more than --tol.

Needs Debian's torch and torchvision (/usr/bin/python3), Pillow and the
safetensors package (e.g. a venv made with --system-site-packages):
  python tests/check_torch_load.py /tmp/run --data data --train \\
      [--clresnet build/clresnet] [--split test] [--device cpu]
"""
import argparse
import csv
import json
import math
import os
import subprocess
import sys
import tempfile
import types

import torch
import torchvision.transforms as T
from PIL import Image
from safetensors import safe_open
from safetensors.torch import load_file

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def import_seed_torch():
    """tools/seed_torch.py imports scipy for its own data loading (loadmat);
    the model classes do not need it, so a missing scipy is stubbed."""
    sys.path.insert(0, os.path.join(ROOT, "tools"))
    try:
        import scipy.io  # noqa: F401
    except ImportError:
        def loadmat(*_a, **_k):
            raise RuntimeError("scipy is not installed")
        scipy = types.ModuleType("scipy")
        scipy.io = types.ModuleType("scipy.io")
        scipy.io.loadmat = loadmat
        sys.modules["scipy"], sys.modules["scipy.io"] = scipy, scipy.io
    import seed_torch
    return seed_torch


def build_model(meta):
    kind, act, final_act = meta["model"], meta["act"], meta.get("final_act", "1") == "1"
    classes, width = int(meta["classes"]), float(meta.get("width", "1"))
    if '"batchnorm": false' in meta.get("config", ""):
        sys.exit("check_torch_load: a --no-batchnorm model has no seed_torch.py counterpart")
    if width == 1.0:
        st = import_seed_torch()
        return st.MODELS[kind](classes, st.act_of(act), final_act), "tools/seed_torch.py"
    sys.path.insert(0, os.path.join(ROOT, "tests"))
    import make_fixtures_model as mf
    return mf.build(kind, act, final_act, classes, width), "tests/make_fixtures_model.py (width %g)" % width


def jpeg_scale(path, r):
    """clresnet's DCT scale num/8 for a JPEG (src/data/jpeg.c: the smallest
    num whose shorter side still covers r), or 8 for anything else."""
    with Image.open(path) as im:
        if im.format != "JPEG":
            return 8
        w, h = im.size
    for num in range(1, 9):
        if min(-(-w * num // 8), -(-h * num // 8)) >= r:
            return num
    return 8


def load_image(path, r, num):
    im = Image.open(path)
    if num != 8:  # PIL picks the largest power-of-2 reduction that keeps the requested size
        w, h = im.size
        im.draft("RGB", (-(-w * num // 8), -(-h * num // 8)))
    return im.convert("RGB")


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("checkpoint", help="run folder or .safetensors checkpoint")
    p.add_argument("--data", help="the data folder (default: the run's, from config.json)")
    p.add_argument("--split", default="test", choices=["test", "val", "train"])
    p.add_argument("--clresnet", default=None, help="the clresnet binary (default build/clresnet)")
    p.add_argument("--device", default=None, help="clresnet --device")
    p.add_argument("--train", action="store_true", help="train a 1-epoch baseline run into RUN first if it is missing")
    p.add_argument("--tol", type=float, default=1e-4)
    a = p.parse_args()
    exe = a.clresnet or os.path.join(ROOT, "build", "clresnet")
    dev = ["--device", a.device] if a.device else []

    if a.train and not os.path.exists(a.checkpoint):
        if not a.data:
            sys.exit("check_torch_load: --train needs --data")
        cmd = [exe] + dev + ["train", "--model", "baseline", "--image-size", "64", "--epochs", "1", "--data", a.data,
                             "--out", a.checkpoint, "--workers", "2"]
        print("training:", " ".join(cmd), flush=True)
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    ckpt = os.path.join(a.checkpoint, "best.safetensors") if os.path.isdir(a.checkpoint) else a.checkpoint
    with safe_open(ckpt, "pt") as f:
        meta = f.metadata() or {}
    config = json.loads(meta["config"]) if "config" in meta else {}
    data = a.data or config.get("data")
    if not data:
        sys.exit("check_torch_load: which data? (--data DIR)")

    # 2. the state dict, read by the safetensors library, loaded strictly
    tensors = load_file(ckpt)
    state = {k: v for k, v in tensors.items() if not k.startswith("optim.")}
    model, source = build_model(meta)
    model.load_state_dict(state, strict=True)
    model.eval()
    print("%s: %d tensors (%d optim.* dropped) loaded with strict=True into %s/%s from %s"
          % (ckpt, len(state), len(tensors) - len(state), meta["model"], meta["act"], source))

    # 3. clresnet's predictions
    S = int(meta.get("image_size") or config.get("image_size"))
    R = int(config.get("resize") or 0) or round(S * 256 / 224)
    with tempfile.TemporaryDirectory() as out:
        cmd = [exe] + dev + ["--quiet", "evaluate", ckpt, "--data", data, "--split", a.split, "--out", out,
                             "--workers", "2"]
        subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
        with open(os.path.join(out, "predictions.csv"), newline="") as fh:
            rows = list(csv.DictReader(fh))
        with open(os.path.join(out, "metrics.json")) as fh:
            cl_loss = json.load(fh)["loss"]

    # 4. PyTorch on the same files
    ev = T.Compose([T.Resize(R), T.CenterCrop(S), T.ToTensor(),
                    T.Normalize([0.485, 0.456, 0.406], [0.229, 0.224, 0.225])])
    used, skipped = [], 0
    for row in rows:
        path = os.path.join(data, row["file"])
        num = jpeg_scale(path, R)
        if num not in (1, 2, 4, 8):
            skipped += 1
            continue
        used.append((row, ev(load_image(path, R, num))))
    if not used:
        sys.exit("check_torch_load: no image left to compare")
    probs, losses = [], []
    with torch.no_grad():
        for i in range(0, len(used), 64):
            b = used[i:i + 64]
            logits = model(torch.stack([x for _, x in b])).double()
            y = torch.tensor([int(r["true_class"]) - 1 for r, _ in b])
            probs.append(torch.softmax(logits, 1))
            losses.append(torch.nn.functional.cross_entropy(logits, y, reduction="none"))
    probs, losses = torch.cat(probs), torch.cat(losses)

    # 5. the figures
    dp = dlog = 0.0
    top1 = top5 = 0
    for (row, _), pt in zip(used, probs):
        cls = [int(row["top%d_class" % j]) - 1 for j in range(1, 6)]
        pc = [float(row["top%d_prob" % j]) for j in range(1, 6)]
        for c, q in zip(cls, pc):
            dp = max(dp, abs(q - pt[c].item()))
            dlog = max(dlog, abs(math.log(max(q, 1e-12)) - math.log(pt[c].item())))
        torch_top = torch.argsort(pt, descending=True)[:5].tolist()
        top1 += torch_top[0] == cls[0]
        top5 += torch_top == cls
    loss_t = losses.mean().item()
    print("%d %s images compared (%d left out: JPEG scale PIL cannot reproduce); image size %d, resize %d"
          % (len(used), a.split, skipped, S, R))
    print("max |p_clresnet - p_torch| over the top-5 classes: %.3g (printed with 6 decimals: 5e-7 of rounding)" % dp)
    print("max |log p_clresnet - log p_torch| over the top-5 classes: %.3g" % dlog)
    print("top-1 agrees on %d/%d images, the top-5 order on %d/%d" % (top1, len(used), top5, len(used)))
    if skipped == 0:
        print("mean cross-entropy: clresnet %.9f, PyTorch %.9f, difference %.3g" % (cl_loss, loss_t, abs(cl_loss - loss_t)))
    ok = dp <= a.tol and (skipped > 0 or abs(cl_loss - loss_t) <= a.tol)
    print("check_torch_load: %s (tolerance %g)" % ("OK" if ok else "FAIL", a.tol))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
