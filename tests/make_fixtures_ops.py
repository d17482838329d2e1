#!/usr/bin/env python3
"""Makes the PyTorch reference fixtures for the non-GEMM layers (tests/
test_batchnorm.c, tests/ops/test_ops.c): tests/fixtures/{bn,act,pool,gap,loss}_*.safetensors.
Run with /usr/bin/python3 (Debian's torch); fixed seeds, so reruns give the
same files.

Layout: every activation tensor is stored CHANNEL-MAJOR [C, N, H, W], the
engine's layout (docs/layout.md), so the C tests upload them as they are;
PyTorch computes in NCHW and the script permutes. Logits and dlogits are
class-major [K, N]; labels and argmax are int32. Argmax is PyTorch's
return_indices (offset ih * W + iw inside the h x w plane).

Gradients are for a random upstream gradient dy (stored) of the op's output:
the reference backward is torch.autograd.grad(y, inputs, dy). Metadata holds
the shape of each case."""
import os

import torch
import torch.nn.functional as F

import fixture_io

here = os.path.dirname(os.path.abspath(__file__))
out = os.path.join(here, "fixtures")
torch.set_default_dtype(torch.float32)


def cm(t):
    """NCHW -> channel-major CNHW, contiguous."""
    return t.permute(1, 0, 2, 3).contiguous()


def save(name, tensors, meta):
    meta = dict(meta, made_by="tests/make_fixtures_ops.py", torch=torch.__version__)
    fixture_io.save(os.path.join(out, name + ".safetensors"), tensors, meta)


# BatchNorm2d: (c, n, h, w, offset, scale) -- offset/scale shift the input
# away from zero mean to exercise the two-pass variance.
def bn_case(tag, c, n, h, w, offset, scale, seed):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(n, c, h, w, generator=g) * scale + offset).requires_grad_(True)
    bn = torch.nn.BatchNorm2d(c)  # eps 1e-5, momentum 0.1
    with torch.no_grad():
        bn.weight.copy_(torch.randn(c, generator=g) * 0.5 + 1.0)
        bn.bias.copy_(torch.randn(c, generator=g) * 0.5)
        bn.running_mean.copy_(torch.randn(c, generator=g))
        bn.running_var.copy_(torch.rand(c, generator=g) + 0.5)
    rm0, rv0 = bn.running_mean.clone(), bn.running_var.clone()
    bn.train()
    y = bn(x)
    dy = torch.randn(n, c, h, w, generator=g)
    dx, dgamma, dbeta = torch.autograd.grad(y, (x, bn.weight, bn.bias), dy)
    xd = x.detach().double()
    mean = xd.mean(dim=(0, 2, 3))
    invstd = 1.0 / torch.sqrt(xd.var(dim=(0, 2, 3), unbiased=False) + 1e-5)
    bn.eval()
    with torch.no_grad():
        y_eval = bn(x)
    save("bn_" + tag, {
        "x": cm(x.detach()), "gamma": bn.weight.detach(), "beta": bn.bias.detach(),
        "running_mean0": rm0, "running_var0": rv0,
        "y": cm(y.detach()), "save_mean": mean.float(), "save_invstd": invstd.float(),
        "running_mean1": bn.running_mean.clone(), "running_var1": bn.running_var.clone(),
        "y_eval": cm(y_eval), "dy": cm(dy), "dx": cm(dx), "dgamma": dgamma, "dbeta": dbeta,
    }, {"c": c, "n": n, "h": h, "w": w})


bn_case("odd", 3, 2, 5, 7, 0.0, 1.0, 1)
bn_case("shift", 4, 3, 9, 9, 5.0, 3.0, 2)
bn_case("tiny", 5, 4, 1, 1, -2.0, 0.5, 3)  # m = 4 (a post-pooling-sized map)
bn_case("wide", 2, 8, 14, 13, 100.0, 0.1, 4)  # m = 1456, large mean / std

# Activations over a flat vector: exact zeros, ties, large magnitudes.
g = torch.Generator().manual_seed(10)
x = torch.randn(1000, generator=g) * 3
x[:50] = 0.0
x[50:60] = torch.tensor([1e-8, -1e-8, 30.0, -30.0, 90.0, -90.0, 1000.0, -1000.0, 0.5, -0.5])
dy = torch.randn(1000, generator=g)
for kind, fn in (("relu", F.relu), ("leaky", lambda t: F.leaky_relu(t, 0.01)), ("silu", F.silu)):
    xx = x.clone().requires_grad_(True)
    y = fn(xx)
    (dx,) = torch.autograd.grad(y, (xx,), dy)
    save("act_" + kind, {"x": x, "y": y.detach(), "dy": dy, "dx": dx}, {"n": 1000})


# Max pooling: inputs with many ties (ReLU zeros, values on a coarse grid)
# one all-negative input (padding must never win) and one with windows of
# -inf only.
def pool_case(tag, c, n, h, w, k, s, p, seed, mode):
    g = torch.Generator().manual_seed(seed)
    r = torch.randn(n, c, h, w, generator=g)
    if mode == "ties":
        x = F.relu(torch.round(r * 2) / 2)
    elif mode == "neg":
        x = -torch.round(r.abs() * 2) / 2 - 1.0
    elif mode == "const":
        x = torch.zeros(n, c, h, w)
    elif mode == "ninf":  # whole windows of -inf: argmax is the window's first in-bounds position
        x = r.clone()
        x[:, :, :4, :4] = float("-inf")
    else:
        x = r
    x = x.requires_grad_(True)
    y, idx = F.max_pool2d(x, k, s, p, return_indices=True)
    dy = torch.randn(y.shape, generator=g)
    (dx,) = torch.autograd.grad(y, (x,), dy)
    save("pool_" + tag, {"x": cm(x.detach()), "y": cm(y.detach()), "argmax": cm(idx).to(torch.int32),
                         "dy": cm(dy), "dx": cm(dx)},
         {"c": c, "n": n, "h": h, "w": w, "k": k, "stride": s, "pad": p})


pool_case("7x7_k3s2p1", 3, 2, 7, 7, 3, 2, 1, 20, "ties")
pool_case("9x9_k3s2p1", 2, 3, 9, 9, 3, 2, 1, 21, "ties")
pool_case("5x6_k3s2p1", 2, 2, 5, 6, 3, 2, 1, 22, "rand")
pool_case("neg_k3s2p1", 2, 2, 7, 8, 3, 2, 1, 23, "neg")
pool_case("const_k3s2p1", 1, 2, 6, 5, 3, 2, 1, 24, "const")
pool_case("ninf_k3s2p1", 2, 2, 7, 7, 3, 2, 1, 28, "ninf")
pool_case("8x8_k2s2", 3, 2, 8, 8, 2, 2, 0, 25, "ties")
pool_case("9x9_k2s2", 2, 2, 9, 9, 2, 2, 0, 26, "rand")
pool_case("5x6_k2s2", 2, 3, 5, 6, 2, 2, 0, 27, "const")
pool_case("ninf_k2s2", 2, 2, 7, 7, 2, 2, 0, 29, "ninf")

# Global average pooling: x [c, n, h, w] -> y [c, n].
g = torch.Generator().manual_seed(30)
x = torch.randn(2, 5, 7, 7, generator=g).requires_grad_(True)  # n=2, c=5
y = F.adaptive_avg_pool2d(x, 1).flatten(1)  # [n, c]
dy = torch.randn(y.shape, generator=g)
(dx,) = torch.autograd.grad(y, (x,), dy)
save("pool_gap", {"x": cm(x.detach()), "y": y.detach().t().contiguous(), "dy": dy.t().contiguous(), "dx": cm(dx)},
     {"c": 5, "n": 2, "hw": 49})


# Softmax cross-entropy, mean reduction; logits stored class-major [k, n].
def loss_case(tag, k, n, scale, seed):
    g = torch.Generator().manual_seed(seed)
    logits = (torch.randn(n, k, generator=g) * scale).requires_grad_(True)
    labels = torch.randint(0, k, (n,), generator=g)
    losses = F.cross_entropy(logits, labels, reduction="none")
    mean = F.cross_entropy(logits, labels)
    (dl,) = torch.autograd.grad(mean, (logits,))
    save("loss_" + tag, {"logits": logits.detach().t().contiguous(), "labels": labels.to(torch.int32),
                         "losses": losses.detach(), "mean": mean.detach().double().reshape(1),
                         "dlogits": dl.t().contiguous()}, {"k": k, "n": n})


loss_case("small", 10, 4, 1.0, 40)
loss_case("flowers", 102, 7, 3.0, 41)
loss_case("huge", 5, 6, 1000.0, 42)  # logits of +-1000: needs max subtraction
