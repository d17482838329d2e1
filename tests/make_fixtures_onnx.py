#!/usr/bin/env python3
"""ONNX export checked with onnx.checker and onnxruntime (opt-in: needs the
PyPI packages onnx and onnxruntime, numpy and PIL; meson test does not).

    python3 -m venv --system-site-packages /tmp/onnx-venv
    /tmp/onnx-venv/bin/pip install onnx onnxruntime
    /tmp/onnx-venv/bin/python tests/make_fixtures_onnx.py --build build [--runs] [--fixtures]

--runs: trained models. For resnet50 (relu, leaky, silu) and the baseline,
    width 1: a short `clresnet train` run on the data (default: the sample in
    data/; --image-size 64, --epochs 1, --max-steps 3, --batch-size 16, so
    the BN running statistics have moved; kept in --runs-dir and reused), then
    `clresnet export RUN --onnx RUN/model.onnx --softmax`,
    onnx.checker.check_model(full_check=True), and onnxruntime on 8 real
    images (the first 8 of the test split) against clresnet's evaluation
    logits. clresnet's side comes from build/tests/onnx_reference (the
    engine's own preprocessing: decode, resize the shorter side to
    round(S*256/224) antialiased bilinear as PIL, centre crop, ImageNet
    normalisation; then the eval-mode forward in one batch), and onnxruntime
    is fed that same preprocessed tensor, so that the comparison is of the
    graphs alone. The same preprocessing done here with PIL is compared with
    clresnet's, and onnxruntime run on it too (reported). Passes when
    max |onnxruntime - clresnet| <= 1e-4 * max |clresnet| for every model.
--fixtures: tests/fixtures/onnx_logits.safetensors for tests/nn/test_onnx.c:
    the models of tests/nn/onnx_support.c (width 1/16, 64 px, 10 classes;
    seeded weights, BatchNorm statistics drawn away from 0 and 1) exported
    by `clresnet export`, onnxruntime's logits on the same 8 images as
    preprocessed by clresnet ("x"), and each exported graph's fingerprint.
"""
import argparse
import csv
import json
import os
import struct
import subprocess
import sys
import tempfile

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
TOL = 1e-4
MEAN = np.array([0.485, 0.456, 0.406], dtype=np.float32)
STD = np.array([0.229, 0.224, 0.225], dtype=np.float32)
RUN_CASES = [("resnet50", "relu"), ("resnet50", "leaky"), ("resnet50", "silu"), ("baseline", "relu")]
FIXTURE_CASES = ["resnet50_relu", "resnet50_leaky", "resnet50_silu", "resnet50_nofinal", "plain50_relu",
                 "baseline_relu", "baseline_silu"]
N_IMAGES = 8


# ---------------------------------------------------------------- safetensors (numpy)
_DT = {"F32": np.float32, "F64": np.float64, "I64": np.int64, "I32": np.int32}


def st_read(path):
    with open(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {})
    out = {}
    for k, v in header.items():
        a, b = v["data_offsets"]
        out[k] = np.frombuffer(data[a:b], dtype=_DT[v["dtype"]]).reshape(v["shape"])
    return out, meta


def st_write(path, tensors, meta):
    header, blobs, off = {"__metadata__": {str(k): str(v) for k, v in meta.items()}}, [], 0
    for k, t in tensors.items():
        t = np.ascontiguousarray(t, dtype=np.float32)
        b = t.astype("<f4").tobytes()
        header[k] = {"dtype": "F32", "shape": list(t.shape), "data_offsets": [off, off + len(b)]}
        blobs.append(b)
        off += len(b)
    raw = json.dumps(header, separators=(",", ":")).encode()
    raw += b" " * (-len(raw) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(raw)) + raw + b"".join(blobs))


# ---------------------------------------------------------------- helpers
def run(cmd, env=None):
    print("+", " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def test_images(data, n):
    """The first n images of the test split (seed mode: trnid) by id, or the
    first n files of jpg/ when the folder has no ids.csv."""
    ids = os.path.join(data, "ids.csv")
    if os.path.exists(ids):
        with open(ids) as f:
            rows = [r for r in csv.DictReader(f) if r["split"] == "trnid"]
        rows.sort(key=lambda r: int(r["id"]))
        return [os.path.join(data, "jpg", "image_%05d.jpg" % int(r["id"])) for r in rows[:n]]
    return sorted(os.path.join(data, "jpg", f) for f in os.listdir(os.path.join(data, "jpg")))[:n]


def pil_preprocess(path, size):
    """torchvision's eval transform: Resize(round(S*256/224)) (PIL bilinear,
    antialiased), CenterCrop(S), ToTensor, Normalize(ImageNet)."""
    r = int(round(size * 256 / 224))
    img = Image.open(path).convert("RGB")
    w, h = img.size
    ow, oh = (r, int(r * h / w)) if w <= h else (int(r * w / h), r)
    img = img.resize((ow, oh), Image.BILINEAR)
    top, left = int(round((oh - size) / 2.0)), int(round((ow - size) / 2.0))
    img = img.crop((left, top, left + size, top + size))
    x = np.asarray(img, dtype=np.float32) / np.float32(255.0)
    x = (x - MEAN) / STD
    return x.transpose(2, 0, 1)


def scaled_diff(got, want):
    """max |got - want| / max |want|: the logits' relative difference."""
    got, want = np.asarray(got, np.float64), np.asarray(want, np.float64)
    return float(np.abs(got - want).max() / np.abs(want).max())


def sessions(path):
    import onnxruntime as ort
    out = {}
    for name, level in (("default", ort.GraphOptimizationLevel.ORT_ENABLE_ALL),
                        ("unoptimised", ort.GraphOptimizationLevel.ORT_DISABLE_ALL)):
        so = ort.SessionOptions()
        so.graph_optimization_level = level
        so.intra_op_num_threads = 2
        out[name] = ort.InferenceSession(path, so, providers=["CPUExecutionProvider"])
    return out


def check_onnx(path):
    import onnx
    m = onnx.load(path)
    onnx.checker.check_model(m, full_check=True)
    return m


class Tools:
    def __init__(self, build):
        self.clresnet = os.path.join(build, "clresnet")
        self.ref = os.path.join(build, "tests", "onnx_reference")
        for p in (self.clresnet, self.ref):
            if not os.access(p, os.X_OK):
                sys.exit(f"{p} is missing: build first (ninja -C {build}; meson needs protobuf-c and libonnx-dev)")
        self.env = dict(os.environ)
        self.env.setdefault("CLRESNET_CACHE_DIR", os.path.join(build, "tests", "kernel-cache"))


# ---------------------------------------------------------------- trained runs
def check_runs(t, args):
    import onnxruntime as ort
    images = test_images(args.data, N_IMAGES)
    print("images:", ", ".join(os.path.relpath(p, args.data) for p in images))
    results, ok = [], True
    for model, act in RUN_CASES:
        rd = os.path.join(args.runs_dir, f"{model}-{act}")
        ckpt = os.path.join(rd, "best.safetensors")
        if not os.path.exists(ckpt):
            run([t.clresnet, "--quiet", "train", "--data", args.data, "--model", model, "--act", act, "--width", "1",
                 "--image-size", str(args.image_size), "--epochs", str(args.epochs), "--batch-size",
                 str(args.batch_size), "--workers", "2", "--out", rd, "--overwrite"]
                + (["--max-steps", str(args.max_steps)] if args.max_steps else []), t.env)
        onnx_path = os.path.join(rd, "model.onnx")
        run([t.clresnet, "--quiet", "export", rd, "--onnx", onnx_path, "--softmax"], t.env)
        m = check_onnx(onnx_path)
        meta = {p.key: p.value for p in m.metadata_props}
        size = int(meta["input_size"])
        assert size == args.image_size and int(meta["resize"]) == round(size * 256 / 224), meta
        assert np.allclose(json.loads(meta["mean"]), MEAN) and np.allclose(json.loads(meta["std"]), STD), meta
        names = json.loads(meta["class_names"]) if "class_names" in meta else []
        ref = os.path.join(rd, "clresnet_logits.safetensors")
        run([t.ref, "logits", ckpt, ref] + images, t.env)
        r, _ = st_read(ref)
        x_crn, want = r["x"], r["logits"]
        x_pil = np.stack([pil_preprocess(p, size) for p in images])
        row = {"model": f"{model}/{act}", "x_pil_vs_clresnet": float(np.abs(x_pil - x_crn).max()),
               "classes": len(names), "max_abs_logit": float(np.abs(want).max())}
        for sname, s in sessions(onnx_path).items():
            logits, probs = s.run(None, {"input": x_crn})
            row[sname] = scaled_diff(logits, want)
            ez = np.exp(logits - logits.max(1, keepdims=True))
            assert np.allclose(probs, ez / ez.sum(1, keepdims=True), atol=1e-6)
            if sname == "default":
                d = np.abs(logits.astype(np.float64) - want)
                row["max_abs"] = float(d.max())
                row["elementwise"] = float((d / np.abs(want)).max())  # large only where a logit is near 0
                one = s.run(["logits"], {"input": x_crn[:1]})[0]  # the batch is dynamic
                row["batch1_vs_batch8"] = scaled_diff(one, logits[:1])
                row["pil_input"] = scaled_diff(s.run(["logits"], {"input": x_pil})[0], want)
                row["top1_same"] = bool((logits.argmax(1) == want.argmax(1)).all())
        row["pass"] = row["default"] <= TOL and row["unoptimised"] <= TOL
        ok &= row["pass"]
        results.append(row)
        print(json.dumps(row), flush=True)
    print(f"\nonnxruntime {ort.__version__}: max |onnxruntime - clresnet| / max |clresnet logit| on {N_IMAGES} images "
          f"(onnx.checker.check_model(full_check=True) passed for every model)")
    print("(no-optim: onnxruntime without graph optimisations, BatchNormalization not fused; PIL input: fed the\n"
          "preprocessing done here with PIL; x PIL-crn: max |PIL's input - clresnet's|; max abs and elementwise:\n"
          "the default session's max |difference| and max |difference| / |clresnet logit|)")
    print("%-16s %10s %10s %10s %10s %10s %10s" % ("model", "default", "no-optim", "PIL input", "x PIL-crn",
                                                  "max abs", "elementwise"))
    for r in results:
        print("%-16s %10.3e %10.3e %10.3e %10.3e %10.3e %10.3e" % (
            r["model"], r["default"], r["unoptimised"], r["pil_input"], r["x_pil_vs_clresnet"], r["max_abs"],
            r["elementwise"]))
    return ok


# ---------------------------------------------------------------- the committed fixture
def make_fixture(t, args):
    import onnx
    import onnxruntime as ort
    images = test_images(os.path.join(ROOT, "data"), N_IMAGES)
    out = {}
    meta = {"images": ",".join(os.path.relpath(p, ROOT) for p in images),
            "onnxruntime": ort.__version__, "onnx": onnx.__version__,
            "note": "x: the images as clresnet's evaluation preprocesses them (64 px); ort.<case>: onnxruntime's "
                    "logits of `clresnet export` of the model of tests/nn/onnx_support.c; "
                    "graph_hash.<case>: tests/nn/onnx_support.c's fingerprint of that graph"}
    ok = True
    with tempfile.TemporaryDirectory() as tmp:
        x = None
        for case in FIXTURE_CASES:
            ckpt, onnx_path = os.path.join(tmp, case + ".safetensors"), os.path.join(tmp, case + ".onnx")
            run([t.ref, "checkpoint", case, ckpt], t.env)
            if x is None:
                r = os.path.join(tmp, "x.safetensors")
                run([t.ref, "logits", ckpt, r] + images, t.env)
                x = st_read(r)[0]["x"].copy()
                out["x"] = x
                meta["image_size"] = x.shape[-1]
            run([t.clresnet, "--quiet", "export", ckpt, "--onnx", onnx_path], t.env)
            m = check_onnx(onnx_path)
            meta["opset"] = m.opset_import[0].version
            logits = {k: s.run(["logits"], {"input": x})[0] for k, s in sessions(onnx_path).items()}
            out["ort." + case] = logits["default"]
            meta["graph_hash." + case] = subprocess.run([t.ref, "graph-hash", onnx_path], check=True,
                                                        capture_output=True, text=True, env=t.env).stdout.strip()
            cl = os.path.join(tmp, case + ".logits.safetensors")
            xs = os.path.join(tmp, "x_in.safetensors")
            st_write(xs, {"x": x}, {})
            run([t.ref, "fixture-logits", case, xs, cl], t.env)
            want = st_read(cl)[0]["logits"]
            d, du = scaled_diff(logits["default"], want), scaled_diff(logits["unoptimised"], want)
            ok &= d <= TOL and du <= TOL
            print(f"{case}: max |onnxruntime - clresnet| / max |logit| = {d:.3e} (unoptimised session {du:.3e})",
                  flush=True)
    path = os.path.join(HERE, "fixtures", "onnx_logits.safetensors")
    st_write(path, out, meta)
    print("wrote", path)
    return ok


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--runs", action="store_true", help="train, export and compare resnet50 x3 and the baseline")
    ap.add_argument("--fixtures", action="store_true", help="write tests/fixtures/onnx_logits.safetensors")
    ap.add_argument("--data", default=os.path.join(ROOT, "data"))
    ap.add_argument("--runs-dir", default=os.path.join(tempfile.gettempdir(), "clresnet-onnx-runs"))
    ap.add_argument("--image-size", type=int, default=64)
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--max-steps", type=int, default=3, help="cap on the optimiser steps of each run (0: none)")
    ap.add_argument("--batch-size", type=int, default=16)
    args = ap.parse_args()
    if not (args.runs or args.fixtures):
        args.runs = args.fixtures = True
    t = Tools(os.path.abspath(args.build))
    ok = True
    if args.fixtures:
        ok &= make_fixture(t, args)
    if args.runs:
        ok &= check_runs(t, args)
    print("PASS" if ok else f"FAIL: a difference above {TOL}")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
