#!/usr/bin/env python3
"""Makes the safetensors fixtures of tests/io/test_safetensors.c with the real
`safetensors` package (https://github.com/huggingface/safetensors), not with
tests/fixture_io.py, so that a misreading of the format shared by our reader
and our fixture writer cannot pass unseen:

  fixtures/safetensors_torch.safetensors  safetensors.torch.save_file
  fixtures/safetensors_numpy.safetensors  safetensors.numpy.save_file
  fixtures/safetensors_f16.safetensors    safetensors.numpy.save_file, with a
                                          float16 tensor (a dtype the engine
                                          refuses, naming it)

Every value is given by a formula that tests/io/test_safetensors.c computes
again in C (only w.f32, torch.randn under seed 0, is quoted from PyTorch), and
dtypes, shapes (0-d, empty, 4-d), tensor order and metadata (with quotes,
backslashes, a newline and non-ASCII text) are chosen to exercise the header.

It then checks, with the library, that tests/fixture_io.py (which writes the
other fixtures) produces files the library reads back identically, and with
--check-all that every committed tests/fixtures/*.safetensors loads with it.

Needs Debian's torch and numpy plus the safetensors package, e.g.
  /usr/bin/python3 -m venv --system-site-packages /tmp/st && /tmp/st/bin/pip install safetensors
  /tmp/st/bin/python tests/make_fixtures_safetensors.py [--check-all]
"""
import glob
import os
import sys
import tempfile

import numpy as np
import safetensors
import safetensors.numpy
import safetensors.torch
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402

here = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(here, "fixtures")

# Metadata values the JSON header must carry exactly (read back by the C test).
TRICKY = 'quote " backslash \\ newline \n tab \t unicode \u00e9\u4e2d\U0001F33C'


def grid4():
    """[2, 3, 1, 2] with value 1000 a + 100 b + 10 c + d at [a, b, c, d]: the
    C test checks the row-major layout from it."""
    a, b, c, d = np.meshgrid(np.arange(2), np.arange(3), np.arange(1), np.arange(2), indexing="ij")
    return (1000 * a + 100 * b + 10 * c + d).astype(np.float32)


def torch_file():
    torch.manual_seed(0)
    t = {
        "w.f32": torch.randn(2, 3, 4),                                   # PyTorch's values, quoted in the test
        "w.f64": torch.arange(5, dtype=torch.float64) / 4,               # 0, .25, .5, .75, 1
        "bn.num_batches_tracked": torch.tensor(7, dtype=torch.int64),    # 0-d I64, as in a state dict
        "empty": torch.zeros(0, 3),                                      # F32 [0, 3], no bytes
        "grid.f32": (torch.arange(24, dtype=torch.float32) - 11.5) / 8,  # exact in float32
        "conv.f32": torch.from_numpy(grid4()),                           # 4-d layout
        "fine.f64": torch.tensor([0.1, 1 / 3, -2.5e-300, 1e300], dtype=torch.float64),
        "scalar.f32": torch.tensor(-1.5),                                # 0-d F32
        "big.i64": torch.tensor([2 ** 40 + 1, -5, 2 ** 62], dtype=torch.int64),
        "lim.i32": torch.tensor([-3, 0, 2 ** 31 - 1, -2 ** 31], dtype=torch.int32),
        "ramp.u8": torch.arange(256, dtype=torch.int32).to(torch.uint8),
        "special.f32": torch.tensor([float("inf"), float("-inf"), float("nan"), -0.0, 1.4e-45, 3.4028234663852886e38],
                                    dtype=torch.float32),
        "empty3.i64": torch.zeros(2, 0, 1, dtype=torch.int64),           # 3-d empty
        "transposed.f32": torch.arange(6, dtype=torch.float32).reshape(2, 3).t().contiguous(),  # [3, 2]: [i][j] = 3 j + i
    }
    meta = {"made_by": "tests/make_fixtures_safetensors.py", "writer": "safetensors.torch.save_file",
            "tricky": TRICKY, "empty_value": "", "torch": torch.__version__, "safetensors": safetensors.__version__}
    path = os.path.join(OUT, "safetensors_torch.safetensors")
    safetensors.torch.save_file(t, path, metadata=meta)
    back = safetensors.torch.load_file(path)
    assert set(back) == set(t) and all(torch.equal(back[k], t[k]) or k == "special.f32" for k in t)
    return path


def numpy_file():
    t = {
        "a.f32": np.arange(7, dtype=np.float32) * np.float32(-0.5),     # 0, -.5, ..., -3
        "s.f64": np.array(2.0 ** -30, dtype=np.float64),                 # 0-d F64
        "s.i32": np.array(-123456, dtype=np.int32),                      # 0-d I32
        "z.u8": np.zeros((0,), dtype=np.uint8),                          # 1-d empty U8
        "m.i64": np.arange(12, dtype=np.int64).reshape(3, 4) - 6,
        "m.u8": (np.arange(6, dtype=np.uint8) * 51).reshape(2, 3),
    }
    meta = {"made_by": "tests/make_fixtures_safetensors.py", "writer": "safetensors.numpy.save_file",
            "numpy": np.__version__}
    path = os.path.join(OUT, "safetensors_numpy.safetensors")
    safetensors.numpy.save_file(t, path, metadata=meta)
    back = safetensors.numpy.load_file(path)
    assert set(back) == set(t) and all(np.array_equal(back[k], t[k]) and back[k].dtype == t[k].dtype for k in t)
    return path


def f16_file():
    path = os.path.join(OUT, "safetensors_f16.safetensors")
    safetensors.numpy.save_file({"half": np.array([1.0, -2.0], dtype=np.float16),
                                 "ok": np.array([3.0], dtype=np.float32)}, path,
                                metadata={"made_by": "tests/make_fixtures_safetensors.py"})
    return path


def check_fixture_io():
    """fixture_io.save's output, read by the library: the same tensors."""
    torch.manual_seed(1)
    t = {"f32": torch.randn(3, 5), "f64": torch.randn(4, dtype=torch.float64), "i64": torch.tensor(3),
         "i32": torch.tensor([-1, 2], dtype=torch.int32), "u8": torch.tensor([0, 255], dtype=torch.uint8),
         "empty": torch.zeros(0, 2), "last": torch.randn(1)}
    with tempfile.TemporaryDirectory() as d:
        p = os.path.join(d, "x.safetensors")
        fixture_io.save(p, t, {"k": "v", "n": 3})
        back = safetensors.torch.load_file(p)
        assert set(back) == set(t), (set(back), set(t))
        for k in t:
            assert back[k].dtype == t[k].dtype and back[k].shape == t[k].shape and torch.equal(back[k], t[k]), k
        with safetensors.safe_open(p, "pt") as f:
            assert f.metadata() == {"k": "v", "n": "3"}, f.metadata()
    print("fixture_io.save: read back by safetensors %s: same tensors and metadata" % safetensors.__version__)


def check_all():
    """Every committed fixture loads with the library (fixture_io-written
    ones included), with the tensor count our C tests expect to find."""
    n = 0
    for p in sorted(glob.glob(os.path.join(OUT, "**", "*.safetensors"), recursive=True)):
        if os.path.basename(p) == "safetensors_f16.safetensors":
            continue
        with safetensors.safe_open(p, "np") as f:
            for k in f.keys():
                f.get_tensor(k)
        n += 1
    print("safetensors %s loads all %d committed fixtures" % (safetensors.__version__, n))


if __name__ == "__main__":
    for p in (torch_file(), numpy_file(), f16_file()):
        print("wrote", os.path.relpath(p, here), os.path.getsize(p), "bytes")
    check_fixture_io()
    if "--check-all" in sys.argv[1:]:
        check_all()
