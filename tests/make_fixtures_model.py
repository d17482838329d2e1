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


# ---------------------------------------------------------------- models
# Copied from tools/seed_torch.py with a width multiplier (the only change):
# sc(c) = max(1, round(c * width)); bottleneck width sc(b), output 4 * sc(b).
def sc(c, width):
    return max(1, round(c * width))


def act_of(name):
    return {"relu": nn.ReLU(inplace=True), "leaky": nn.LeakyReLU(0.01, inplace=True), "silu": nn.SiLU(inplace=True)}[name]


class ResBlock(nn.Module):
    def __init__(s, i, b, stride, a, final_act=True):
        super().__init__(); s.input_dim, s.output_dim, s.stride = i, 4 * b, stride
        s.activation = nn.Sequential(a if final_act else nn.Identity())
        s.block = nn.Sequential(nn.Conv2d(i, b, 1, stride, bias=False), nn.BatchNorm2d(b), a,
                                nn.Conv2d(b, b, 3, 1, 1, bias=False), nn.BatchNorm2d(b), a,
                                nn.Conv2d(b, 4 * b, 1, bias=False), nn.BatchNorm2d(4 * b))
        if stride != 1 or i != 4 * b:
            s.downsample = nn.Sequential(nn.Conv2d(i, 4 * b, 1, stride, bias=False), nn.BatchNorm2d(4 * b))

    def forward(s, x):
        r = s.downsample(x) if hasattr(s, "downsample") else x
        return s.activation(s.block(x) + r)


class PlainBlock(ResBlock):
    def __init__(s, *args):
        super().__init__(*args)
        if hasattr(s, "downsample"): del s.downsample

    def forward(s, x):
        return s.activation(s.block(x))


class ResNet50(nn.Module):
    def __init__(s, n_class, a, final_act=True, block=ResBlock, width=1.0):
        super().__init__()
        stem = sc(64, width)
        s.footer = nn.Sequential(nn.Conv2d(3, stem, 7, 2, 3, bias=False), nn.BatchNorm2d(stem), a, nn.MaxPool2d(3, 2, 1))
        i, stages = stem, []
        for b, reps, st in [(64, 3, 1), (128, 4, 2), (256, 6, 2), (512, 3, 2)]:
            b = sc(b, width)
            L = []
            for r in range(reps):
                L.append(block(i, b, st if r == 0 else 1, a, final_act)); i = 4 * b
            stages.append(L)
        s.block1, s.block2, s.block3 = (nn.Sequential(*L) for L in stages[:3])
        s.block4 = nn.Sequential(*stages[3], nn.AdaptiveAvgPool2d((1, 1)))
        s.fc = nn.Sequential(nn.Linear(i, n_class))

    def forward(s, x):
        x = s.block4(s.block3(s.block2(s.block1(s.footer(x)))))
        return s.fc(x.view(x.size(0), -1))


class Baseline(nn.Module):
    def __init__(s, n, a, width=1.0):
        super().__init__(); L, i = [], 3
        for c in (32, 64, 128, 256):
            c = sc(c, width)
            L += [nn.Conv2d(i, c, 3, 1, 1, bias=False), nn.BatchNorm2d(c), a, nn.MaxPool2d(2)]; i = c
        s.features = nn.Sequential(*L, nn.AdaptiveAvgPool2d((1, 1)))
        s.fc = nn.Sequential(nn.Linear(i, n))

    def forward(s, x):
        return s.fc(s.features(x).flatten(1))


def build(kind, act, final_act, classes, width):
    a = act_of(act)
    if kind == "resnet50": return ResNet50(classes, a, final_act, ResBlock, width)
    if kind == "plain50": return ResNet50(classes, a, final_act, PlainBlock, width)
    return Baseline(classes, a, width)


# name, kind, act, final_act
MODEL_CASES = [
    ("resnet50_relu", "resnet50", "relu", True),
    ("resnet50_leaky", "resnet50", "leaky", True),
    ("resnet50_silu", "resnet50", "silu", True),
    ("resnet50_nofinal", "resnet50", "relu", False),
    ("plain50_relu", "plain50", "relu", True),
    ("baseline_relu", "baseline", "relu", True),
    ("baseline_silu", "baseline", "silu", True),
]
WIDTH, CLASSES, SIZE, BATCH, STEPS = 1 / 16, 10, 64, 4, 3


def run(m, x, y, noise_seed=None):
    """STEPS NAdam steps on one batch; what the C test compares. noise_seed:
    perturb every gradient by 1e-5 of its tensor's largest entry (float32
    rounding level) before each step, to measure how sensitive the later
    steps are to it."""
    lossf = nn.CrossEntropyLoss()
    opt = torch.optim.NAdam(m.parameters(), lr=1e-3, weight_decay=1e-4)
    t, losses = {}, []
    m.train()
    for s in range(STEPS):
        opt.zero_grad()
        out = m(x)
        per = nn.functional.cross_entropy(out, y.long(), reduction="none")
        loss = lossf(out, y.long())
        loss.backward()
        if s == 0:
            t["logits"] = out.detach().clone()
            t["losses"] = per.detach().clone()
            for k, p in m.named_parameters():
                t["grad." + k] = p.grad.clone()
        losses.append(loss.detach().clone())
        if noise_seed is not None:
            g = torch.Generator().manual_seed(noise_seed * 100 + s)
            for p in m.parameters():
                p.grad += torch.randn(p.grad.shape, generator=g).to(p.grad.dtype) * 1e-5 * p.grad.abs().max()
        opt.step()
    t["step_losses"] = torch.stack(losses)
    for k, v in m.state_dict().items():
        t["step3." + k] = v.clone()
    m.eval()
    with torch.no_grad():
        t["eval_logits"] = m(x).clone()
    return t


def make_model():
    """The reference is PyTorch in float64 from the same float32 weights and
    input; err32.<name> records how far PyTorch's own float32 run lands from
    it (max |f32 - f64| / max |f64| per tensor, relative for the losses), so
    that the C test can hold clresnet to the same standard: within a fixed
    tolerance or a small multiple of PyTorch's own float32 error, whichever is
    larger. Deep float32 graphs lose digits where gradients cancel (plain50,
    BN shift invariance makes some gradients exactly zero in exact
    arithmetic), and there PyTorch float32 itself is far from exact."""
    import copy
    for i, (name, kind, act, final_act) in enumerate(MODEL_CASES):
        torch.manual_seed(100 + i)
        m = build(kind, act, final_act, CLASSES, WIDTH)
        m64 = copy.deepcopy(m).double()
        x = torch.randn(BATCH, 3, SIZE, SIZE)
        y = torch.randint(0, CLASSES, (BATCH,), dtype=torch.int32)
        init = {k: v.clone() for k, v in m.state_dict().items()}
        meta = {"model": kind, "act": act, "final_act": int(final_act), "width": WIDTH, "classes": CLASSES,
                "image_size": SIZE, "batch": BATCH, "steps": STEPS, "torch": torch.__version__,
                "keys": ",".join(init.keys())}
        fixture_io.save(os.path.join(OUT, f"model_{name}_init.safetensors"), init, meta)
        r32 = run(copy.deepcopy(m), x, y)
        r64 = run(copy.deepcopy(m64), x.double(), y)
        noisy = [run(copy.deepcopy(m64), x.double(), y, seed) for seed in range(3)]
        t = {"x": x, "y": y}

        def dev(a, b, k):
            a, b = a.double(), b.double()
            if k in ("losses", "step_losses"):
                return (a - b).abs() / b.abs()  # per sample / per step
            den = b.abs().max()
            e = (a - b).abs().max() / den if den > 0 else (a - b).abs().max()
            return e.reshape(())
        for k, v in r64.items():
            t[k] = v
            if v.dtype == torch.int64:
                continue
            e = dev(r32[k], v, k)
            for r in noisy:  # the step results' sensitivity to float32-sized gradient errors
                if not k.startswith("grad.") and k not in ("logits", "losses"):
                    e = torch.maximum(e, dev(r[k], v, k))
            t["err32." + k] = e.double()
        t["step_losses32"] = r32["step_losses"].double()
        fixture_io.save(os.path.join(OUT, f"model_{name}.safetensors"), t, meta)
        worst = max((v.item(), k) for k, v in t.items() if k.startswith("err32.grad"))
        print(name, sum(p.numel() for p in m.parameters()), "params, losses", r64["step_losses"].tolist(),
              "torch f32 loss err per step", t["err32.step_losses"].tolist(), "worst f32 grad err", worst)
    for kind in ("resnet50", "plain50", "baseline"):
        print(kind, "width 1, 102 classes:", sum(p.numel() for p in build(kind, "relu", True, 102, 1.0).parameters()))


if __name__ == "__main__":
    what = sys.argv[1:] or ["optim", "model"]
    if "optim" in what:
        make_optim()
    if "model" in what and "make_model" in globals():
        globals()["make_model"]()
