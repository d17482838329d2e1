#!/usr/bin/env python3
"""Makes tests/fixtures/conv_*.safetensors and linear_*.safetensors: forward
outputs and autograd gradients of torch.nn.functional.conv2d / linear, for
tests/ops/test_conv_linear.c. Run with /usr/bin/python3 (Debian's torch).

Layouts in the files: activations are stored CHANNEL-MAJOR [C, N, H, W], the
engine's layout (docs/layout.md), i.e. PyTorch's NCHW tensors permuted with
.permute(1, 0, 2, 3) before saving, so the C test reads them as they are.
Weights keep PyTorch's layout [Cout, Cin, kh, kw]. Linear activations are
feature-major [in, n] / [out, n] (PyTorch's [n, in] transposed).

Each conv file holds x, w, b (when the layer has a bias), y, dy (a random
upstream gradient), dx, dw, db (autograd of sum(y * dy)); the shape is in the
metadata (cin, cout, kh, kw, stride, pad, bias, n, h, w)."""
import os

import torch
import torch.nn.functional as F

import fixture_io

here = os.path.dirname(os.path.abspath(__file__))
out_dir = os.path.join(here, "fixtures")

# name, cin, cout, kh, kw, stride, pad, bias, n, h, w
CONV_CASES = [
    ("conv_stem7x7s2", 3, 8, 7, 7, 2, 3, False, 2, 16, 16),   # the resnet stem, small
    ("conv_3x3s1", 4, 6, 3, 3, 1, 1, False, 2, 8, 8),
    ("conv_1x1s1", 8, 5, 1, 1, 1, 0, False, 2, 6, 6),          # straight GEMM path
    ("conv_1x1s1_bias", 7, 4, 1, 1, 1, 0, True, 2, 5, 3),     # straight GEMM path with bias
    ("conv_1x1s2_odd", 6, 4, 1, 1, 2, 0, False, 2, 9, 9),     # resnet v1 block stride: a subsample
    ("conv_3x3s2_odd", 3, 4, 3, 3, 2, 1, False, 2, 7, 7),
    ("conv_3x3_bias", 3, 5, 3, 3, 1, 0, True, 2, 6, 6),
    ("conv_nonsquare", 3, 4, 3, 3, 2, 1, True, 2, 7, 10),      # non-square input
    ("conv_kernel2x3s3", 2, 3, 2, 3, 3, 1, True, 1, 8, 11),   # non-square kernel, stride > kernel height
    ("conv_batch3", 5, 7, 3, 3, 1, 1, True, 3, 5, 5),
    ("conv_5x5s2p2", 4, 3, 5, 5, 2, 2, False, 3, 9, 8),
]

LINEAR_CASES = [
    # name, in, out, n
    ("linear_small", 12, 7, 3),
    ("linear_wide", 67, 10, 5),
]


def cnhw(t):
    return t.permute(1, 0, 2, 3).contiguous()


def main():
    torch.manual_seed(1234)
    for name, cin, cout, kh, kw, stride, pad, bias, n, h, w in CONV_CASES:
        x = torch.randn(n, cin, h, w, dtype=torch.float64, requires_grad=True)
        wt = (torch.randn(cout, cin, kh, kw, dtype=torch.float64) / (cin * kh * kw) ** 0.5).requires_grad_()
        b = torch.randn(cout, dtype=torch.float64, requires_grad=True) if bias else None
        # Inputs are rounded to float32 first, then everything is computed in
        # float64 so that the reference itself carries no float32 error.
        with torch.no_grad():
            x.copy_(x.float().double())
            wt.copy_(wt.float().double())
            if b is not None:
                b.copy_(b.float().double())
        y = F.conv2d(x, wt, b, stride=stride, padding=pad)
        dy = torch.randn_like(y).float().double()
        (y * dy).sum().backward()
        t = {"x": cnhw(x.detach()), "w": wt.detach(), "y": cnhw(y.detach()), "dy": cnhw(dy),
             "dx": cnhw(x.grad), "dw": wt.grad}
        if b is not None:
            t["b"] = b.detach()
            t["db"] = b.grad
        t = {k: v.float() for k, v in t.items()}
        meta = dict(cin=cin, cout=cout, kh=kh, kw=kw, stride=stride, pad=pad, bias=int(bias), n=n, h=h, w=w,
                    layout="activations CNHW, weights OIHW", made_by="tests/make_fixtures_conv.py",
                    torch=torch.__version__)
        fixture_io.save(os.path.join(out_dir, name + ".safetensors"), t, meta)

    for name, fin, fout, n in LINEAR_CASES:
        x = torch.randn(n, fin, dtype=torch.float64).float().double().requires_grad_()
        wt = (torch.randn(fout, fin, dtype=torch.float64) / fin ** 0.5).float().double().requires_grad_()
        b = torch.randn(fout, dtype=torch.float64).float().double().requires_grad_()
        y = F.linear(x, wt, b)
        dy = torch.randn_like(y).float().double()
        (y * dy).sum().backward()
        t = {"x": x.detach().t(), "w": wt.detach(), "b": b.detach(), "y": y.detach().t(), "dy": dy.t(),
             "dx": x.grad.t(), "dw": wt.grad, "db": b.grad}
        t = {k: v.float() for k, v in t.items()}
        meta = {"in": fin, "out": fout, "n": n, "layout": "x [in, n], y [out, n], w [out, in]",
                "made_by": "tests/make_fixtures_conv.py", "torch": torch.__version__}
        fixture_io.save(os.path.join(out_dir, name + ".safetensors"), t, meta)


if __name__ == "__main__":
    main()
