#!/usr/bin/env python3
"""Regenerates the model and optimiser fixtures of tests/test_optim.c,
tests/test_model.c and tests/test_weights.c with PyTorch (torch 1.13 on the
CPU, float32). Run with Debian's torch: /usr/bin/python3 tests/make_fixtures_model.py
The model definitions are copied from tools/seed_torch.py (same module and
tensor names), with a width multiplier: channels = max(1, round(c * width)),
the rule clresnet's builders use."""
import os
import sys

import torch
import torch.nn as nn

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")

# ---------------------------------------------------------------- optimisers
OPT_N = 300
OPT_STEPS = 5


def make_optim():
    g = torch.Generator().manual_seed(1234)
    p0 = torch.randn(OPT_N, generator=g)
    grads = [torch.randn(OPT_N, generator=g) * (0.1 * (s + 1)) for s in range(OPT_STEPS)]
    for gr in grads:  # the first 20 elements move by weight decay alone
        gr[:20] = 0
    cases = {
        "nadam": lambda p: torch.optim.NAdam([p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4,
                                             momentum_decay=4e-3),
        "adam": lambda p: torch.optim.Adam([p], lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4),
        "sgd": lambda p: torch.optim.SGD([p], lr=1e-2, momentum=0.9, weight_decay=1e-4),
    }
    for name, make in cases.items():
        p = p0.clone().requires_grad_(True)
        opt = make(p)
        t = {"param0": p0.clone()}
        for s in range(OPT_STEPS):
            p.grad = grads[s].clone()
            t[f"grad{s + 1}"] = grads[s].clone()
            opt.step()
            t[f"param{s + 1}"] = p.detach().clone()
        st = opt.state[p]
        for k in ("exp_avg", "exp_avg_sq", "momentum_buffer"):
            if k in st:
                t[k] = st[k].clone()
        fixture_io.save(os.path.join(OUT, f"optim_{name}.safetensors"), t,
                        {"steps": OPT_STEPS, "n": OPT_N, "torch": torch.__version__})


if __name__ == "__main__":
    what = sys.argv[1:] or ["optim", "model"]
    if "optim" in what:
        make_optim()
    if "model" in what and "make_model" in globals():
        globals()["make_model"]()
