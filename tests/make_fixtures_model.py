#!/usr/bin/env python3
"""Regenerates the model and optimiser fixtures of tests/train/test_optim.c,
tests/nn/test_model.c and tests/nn/test_weights.c (the model ones are also read by
tests/eval/test_eval_mode.c) with PyTorch (torch 1.13 on the CPU). Run with
Debian's torch: /usr/bin/python3 tests/make_fixtures_model.py [optim] [model
[fixture names...]] (everything by default; the model fixtures take minutes).
The model definitions are copied from tools/seed_torch.py (same module and
tensor names), with a width multiplier: channels = max(1, round(c * width)),
the rule clresnet's builders use."""
import copy
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


# torchvision's depths: the block and the blocks per stage (its resnet18..resnet152)
TV_DEPTHS = {18: ("BasicBlock", [2, 2, 2, 2]), 34: ("BasicBlock", [3, 4, 6, 3]), 50: ("Bottleneck", [3, 4, 6, 3]),
             101: ("Bottleneck", [3, 4, 23, 3]), 152: ("Bottleneck", [3, 8, 36, 3])}


def torchvision_resnet(depth, classes, width):
    """torchvision's ResNet of that depth (its ResNet, BasicBlock or
    Bottleneck and _make_layer: the stride on each first block's 3x3, its
    names and initialisation) with the channels scaled by width, which
    torchvision's constructor does not offer: the stem and the four stages
    are made again by its own code."""
    import torchvision.models.resnet as tvr
    block, layers = getattr(tvr, TV_DEPTHS[depth][0]), TV_DEPTHS[depth][1]
    m = tvr.ResNet(block, layers, num_classes=classes)
    m.inplanes = sc(64, width)
    m.conv1 = nn.Conv2d(3, m.inplanes, kernel_size=7, stride=2, padding=3, bias=False)
    m.bn1 = nn.BatchNorm2d(m.inplanes)
    m.layer1 = m._make_layer(block, sc(64, width), layers[0])
    m.layer2 = m._make_layer(block, sc(128, width), layers[1], stride=2)
    m.layer3 = m._make_layer(block, sc(256, width), layers[2], stride=2)
    m.layer4 = m._make_layer(block, sc(512, width), layers[3], stride=2)
    m.fc = nn.Linear(m.inplanes, classes)
    for mod in m.modules():  # torchvision's ResNet.__init__ initialisation, for the new modules
        if isinstance(mod, nn.Conv2d):
            nn.init.kaiming_normal_(mod.weight, mode="fan_out", nonlinearity="relu")
        elif isinstance(mod, nn.BatchNorm2d):
            nn.init.constant_(mod.weight, 1)
            nn.init.constant_(mod.bias, 0)
    return m


def build(kind, act, final_act, classes, width):
    if kind.endswith("-tv"):  # resnet18-tv .. resnet152-tv
        assert act == "relu" and final_act
        return torchvision_resnet(int(kind[len("resnet"):-len("-tv")]), classes, width)
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
    # torchvision's graph: needs the torchvision package (with its torch;
    # made with torch 2.15 and torchvision 0.29 from PyPI)
    ("resnet50tv_relu", "resnet50-tv", "relu", True),
    ("resnet18tv_relu", "resnet18-tv", "relu", True),  # torchvision's BasicBlock
]
# The NAdam fixtures whose updates are compared at step 1 only (upd1; the C
# test runs one step): the other resnet50 variants add little to
# resnet50_relu's and resnet50_silu's steps 2 and 3 but 0.8 MB each, and
# plain50's float32 gradients leave 2 of its 149 tensors comparable there.
ONE_STEP = ("resnet50_leaky", "resnet50_nofinal", "plain50_relu", "resnet50tv_relu", "resnet18tv_relu")
# The other optimisers through a model: the same model, weights and batch as
# the NAdam fixture named second (its _init file, its x and y).
# name, NAdam fixture, optimiser
OPTIM_CASES = [
    ("resnet50_relu_sgd", "resnet50_relu", "sgd"),
    ("resnet50_relu_adam", "resnet50_relu", "adam"),
    ("baseline_relu_sgd", "baseline_relu", "sgd"),
    ("baseline_relu_adam", "baseline_relu", "adam"),
]
WIDTH, CLASSES, SIZE, BATCH, STEPS = 1 / 16, 10, 64, 4, 3

# The optimisers as clresnet's crn_optim_defaults sets them, and, for each,
# settings a plausible bug would amount to: the C test asserts that its
# update checks would fail an engine that computed those instead.
OPTIMS = {
    "nadam": (torch.optim.NAdam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4, momentum_decay=4e-3)),
    "adam": (torch.optim.Adam, dict(lr=1e-3, betas=(0.9, 0.999), eps=1e-8, weight_decay=1e-4)),
    "sgd": (torch.optim.SGD, dict(lr=1e-2, momentum=0.9, weight_decay=1e-4)),
}
ALTERNATIVES = {
    "nadam": [("momentum_decay=0", dict(momentum_decay=0.0)), ("momentum_decay=4e-2", dict(momentum_decay=4e-2)),
              ("weight_decay=0", dict(weight_decay=0.0))],
    "adam": [("weight_decay=0", dict(weight_decay=0.0)), ("beta1=0.8", dict(betas=(0.8, 0.999))),
             ("beta2=0.99", dict(betas=(0.9, 0.99)))],
    "sgd": [("weight_decay=0", dict(weight_decay=0.0)), ("momentum=0", dict(momentum=0.0)),
            ("nesterov", dict(nesterov=True))],
}
# The spread runs, the float32 yardstick of every update check: PyTorch's
# float32 run; 4 runs (2 float32, 2 float64) whose gradients get, before the
# optimiser step, Gaussian noise of standard deviation err32 x max |g| per
# element (err32: the float32 run's max |g32 - g64| / max |g64| for that
# tensor and step); one whose gradients are err32 too large throughout (a
# float32 sum's error can be proportional to the sum, and an SGD update's
# size error is that: without this run clresnet on rusticl was 10x the spread
# in resnet50's block3.0.block.3.weight); and,
# at steps 2 and 3, one run for each of the FLIP_MAX elements of the forward
# nearest to a kink (a ReLU input within MARGIN of zero, two max-pool inputs
# within MARGIN of each other, relative to the tensor's largest entry),
# decided the other way (flip_runs).
# A gradient is discontinuous there, and float32 rounding picks the side:
# clresnet's forward at NAdam's step-2 weights of resnet50_relu negates the
# ReLU input 1.1e-6 of its layer's largest (the nearest in that forward),
# which moves the gradients of every layer below by 1-9 %; PyTorch's float32
# does the same at Adam's step-3 weights. At step 1 the gradient check
# (TOL_GRAD) already fails an engine that decided a kink otherwise.
MARGIN, FLIP_MAX = 1e-5, 32
# A tensor whose spread is over MAX_SPREAD of its update is not compared
# (the C test's tolerance is 8x the spread and must stay under the update).
MAX_SPREAD = 1 / 16
# tests/nn/test_model.c's tolerance factor over the spread
K_UPD = 8.0
# Adam and NAdam divide by sqrt(v): where every gradient an element has seen
# is within S_STABLE times a float32 gradient error of zero (max(TOL_GRAD =
# 1e-3, the C test's gradient tolerance, and K32 = 4 x the farthest spread
# run's error) x the tensor's largest entry), a float32 engine's update there
# is set by rounding (at step 1, where the update is lr x sign(g), by the sign
# of noise), so the update checks leave such elements out (the "stable<t>"
# bit masks, one bit per element in state-dict order).
S_STABLE, TOL_GRAD, K32 = 3.0, 1e-3, 4.0


def make_optimizer(kind, params, changes=None):
    cls, hp = OPTIMS[kind]
    hp = dict(hp)
    hp.update(changes or {})
    return cls(params, **hp)


def kinks(m, x):
    """The forward's elements within MARGIN of a kink, smallest margin first,
    at most FLIP_MAX: (margin, module, call, what), what being ("act", flat
    index) for a ReLU / LeakyReLU input within MARGIN x max |input| of zero,
    ("pool", runner-up index, winner's value) for a max-pool window whose two
    largest inputs are within MARGIN x max |input| (windows whose largest
    input is exactly 0, dead ReLUs, route a zero gradient either way)."""
    found, calls = [], {}

    def on_act(mod, inp):
        c = calls[mod] = calls.get(mod, -1) + 1
        a = inp[0].detach()
        r = (a.abs() / a.abs().max()).flatten()
        for i in torch.nonzero(r < MARGIN).flatten().tolist():
            found.append((r[i].item(), mod, c, ("act", i)))

    def on_pool(mod, inp):
        c = calls[mod] = calls.get(mod, -1) + 1
        a = inp[0].detach()
        k, st, pd = mod.kernel_size, mod.stride, mod.padding
        ap = nn.functional.pad(a, (pd, pd, pd, pd), value=float("-inf"))
        u = ap.unfold(2, k, st).unfold(3, k, st)
        n, ch, oh, ow = u.shape[:4]
        top = u.reshape(n, ch, oh, ow, k * k).topk(2, dim=-1)
        gap = (top.values[..., 0] - top.values[..., 1]) / a.abs().max()
        near = (gap < MARGIN) & (top.values[..., 0] != 0)
        for idx in torch.nonzero(near).tolist():
            i, j, h, w = idx
            pos = top.indices[i, j, h, w, 1].item()
            hh, ww = h * st + pos // k - pd, w * st + pos % k - pd
            found.append((gap[i, j, h, w].item(), mod, c, ("pool", (i, j, hh, ww), top.values[i, j, h, w, 0].item())))
    hs = [mod.register_forward_pre_hook(on_act) for mod in m.modules() if isinstance(mod, (nn.ReLU, nn.LeakyReLU))]
    hs += [mod.register_forward_pre_hook(on_pool) for mod in m.modules() if isinstance(mod, nn.MaxPool2d)]
    with torch.no_grad():
        m(x)
    for h in hs:
        h.remove()
    found.sort(key=lambda f: f[0])
    return found[:FLIP_MAX]


def flipped(m, kink):
    """A forward pre-hook that decides `kink` the other way: the ReLU input
    negated, the max-pool runner-up raised a hair over the winner (either
    moves the forward by at most MARGIN of the tensor's magnitude)."""
    _, mod, call, what = kink
    count = [-1]

    def hook(md, inp):
        count[0] += 1
        if count[0] != call:
            return None
        a = inp[0].clone()
        if what[0] == "act":
            a.view(-1)[what[1]] = -a.view(-1)[what[1]]
        else:
            a[what[1]] = what[2] + abs(what[2]) * 1e-9
        return (a,)
    return mod.register_forward_pre_hook(hook)


def run(m, x, y, kind, forced=None, noise_seed=None, noise=None, changes=None):
    """STEPS optimiser steps on one batch, the protocol of tests/nn/test_model.c:
    before step t > 1 the parameters are set to the reference's rounded
    weights W[t-1] (teacher forcing), so that every step starts from the same
    point for every run and what is compared is one step's update, not the
    chaotic drift of a deep network at initialisation (from the same
    weights, PyTorch's own float32 resnet50 lands 0.5-15 % off float64 in
    loss within 3 free-running steps, SGD included; from the same forced
    weights, its updates agree to ~1e-4). forced None: this run is the
    reference and makes W[t] = float32(W[t-1] + float32(u[t])) itself, as the
    C test does. noise_seed, noise: add noise[s][k] x max |g| x N(0, 1) to
    every element of the gradient of k before step s (noise_seed "scale":
    multiply it by 1 + noise[s][k]). changes: optimiser settings changed
    (ALTERNATIVES). Returns the updates u[t] = w_after - W[t-1] (float64) and
    the rest."""
    named = list(m.named_parameters())
    opt = make_optimizer(kind, [p for _, p in named], changes)
    W = [{k: p.detach().double().clone() for k, p in named}] if forced is None else forced
    r = {"us": [], "losses": [], "grads": [], "logits_all": []}
    m.train()
    for s in range(STEPS):
        with torch.no_grad():
            for k, p in named:
                p.copy_(W[s][k])
        opt.zero_grad()
        out = m(x)
        r["logits_all"].append(out.detach().double().clone())
        per = nn.functional.cross_entropy(out, y.long(), reduction="none")
        loss = per.mean()
        loss.backward()
        if s == 0:
            r["logits"], r["per_sample"] = out.detach().double().clone(), per.detach().double().clone()
        r["losses"].append(loss.item())
        r["grads"].append({k: p.grad.double().clone() for k, p in named})
        if noise_seed == "scale":
            for k, p in named:
                p.grad *= 1 + noise[s][k]
        elif noise_seed is not None:
            g = torch.Generator().manual_seed(noise_seed * 100 + s)
            for k, p in named:
                p.grad += torch.randn(p.grad.shape, generator=g).to(p.grad.dtype) * noise[s][k] * p.grad.abs().max()
        opt.step()
        r["us"].append({k: p.detach().double() - W[s][k] for k, p in named})
        if forced is None:
            W.append({k: (W[s][k] + r["us"][s][k].float().double()).float().double() for k, _ in named})
    with torch.no_grad():  # the reference's final weights, and the buffers rounded as the fixture stores them
        for k, p in named:
            p.copy_(W[STEPS][k])
        for k, b in m.named_buffers():
            if b.is_floating_point():
                b.copy_(b.float())
    r["state"] = {k: v.clone() for k, v in m.state_dict().items()}
    m.eval()
    with torch.no_grad():
        r["eval_logits"] = m(x).double().clone()
    r["W"] = W
    return r


def flip_runs(m, x, y, kind, ref, steps):
    """For every step s > 1 and each of the elements nearest a kink in its
    forward (kinks), the run that decides that one the other way: the
    reference's gradients at steps before and after s (forced weights make
    them the same), the flipped forward's at s, the optimiser state carrying
    the difference into the later steps."""
    named = list(m.named_parameters())
    m.train()
    runs = []
    for s in range(1, steps):
        with torch.no_grad():
            for k, p in named:
                p.copy_(ref["W"][s][k])
        for kink in kinks(m, x):
            opt = make_optimizer(kind, [p for _, p in named])
            r = {"us": [], "grads": []}
            for t in range(STEPS):
                with torch.no_grad():
                    for k, p in named:
                        p.copy_(ref["W"][t][k])
                if t == s:
                    h = flipped(m, kink)
                    opt.zero_grad()
                    nn.functional.cross_entropy(m(x), y.long()).backward()
                    h.remove()
                else:
                    for k, p in named:
                        p.grad = ref["grads"][t][k].to(p.dtype).clone()
                r["grads"].append({k: p.grad.double().clone() for k, p in named})
                opt.step()
                r["us"].append({k: p.detach().double() - ref["W"][t][k] for k, p in named})
            runs.append(r)
    return runs


def rel_max(a, b):
    """max |a - b| / max |b| (the absolute error where b is all zero)"""
    a, b = a.double(), b.double()
    den = b.abs().max()
    e = (a - b).abs().max()
    return (e / den if den > 0 else e).item()


def update_checks(ref, others, alts, adaptive, weight_decay, steps):
    """For every step and trainable tensor, over the compared elements (all
    for SGD; the stable ones for Adam and NAdam): how far the spread runs'
    updates are from the reference's (the float32 yardstick), and how far
    the alternatives' are, in the two measures the C test checks:
      max:  max |u - u_ref| / max |u_ref|
      size: |sum (u - u_ref) u_ref| / sum u_ref^2, the relative error of the
            update's component along the reference update (its step size:
            learning rate, bias corrections, momentum decay).
    Returns a dict of fixture tensors."""
    keys = list(ref["us"][0].keys())
    t = {}
    caught = [0] * len(alts)
    spread_us = [[r["us"][s] for r in others] for s in range(STEPS)]
    spread_gs = [[r["grads"][s] for r in others] for s in range(STEPS)]
    for s in range(steps):
        spread_max, spread_size, alt_max, alt_size, bits = [], [], [[] for _ in alts], [[] for _ in alts], []
        for k in keys:
            u = ref["us"][s][k].flatten()
            mask = torch.ones_like(u, dtype=torch.bool)
            if adaptive:
                gs = [(ref["grads"][q][k] + weight_decay * ref["W"][q][k]).flatten()
                      for q in range(s + 1)]
                e32 = max(rel_max(g[k], ref["grads"][q][k]) for q in range(s + 1) for g in spread_gs[q])
                gtol = max(TOL_GRAD, K32 * e32) * max(g.abs().max().item() for g in gs)
                mask = torch.sqrt(sum(g * g for g in gs) / len(gs)) > S_STABLE * gtol
            bits.append(mask)
            um = u[mask]
            if mask.sum() == 0 or um.abs().max() == 0:
                spread_max.append(-1.0), spread_size.append(-1.0)
                for a in range(len(alts)):
                    alt_max[a].append(-1.0), alt_size[a].append(-1.0)
                continue

            def meas(us):
                d = us[k].flatten()[mask] - um
                return (d.abs().max() / um.abs().max()).item(), abs(((d * um).sum() / (um * um).sum()).item())
            sp = [meas(us) for us in spread_us[s]]
            if max(v[0] for v in sp) > MAX_SPREAD:
                spread_max.append(-1.0), spread_size.append(-1.0)
                for a in range(len(alts)):
                    alt_max[a].append(-1.0), alt_size[a].append(-1.0)
                continue
            spread_max.append(max(v[0] for v in sp)), spread_size.append(max(v[1] for v in sp))
            # the C test's tolerances (K_UPD, rounding floors), to list only
            # the alternatives its checks can tell apart
            floor_max = 2.0 ** -22 * (ref["W"][s][k].flatten()[mask].abs().max() + um.abs().max()).item() / \
                um.abs().max().item()
            floor_size = max(floor_max / mask.sum().item() ** 0.5, 2.0 ** -21)
            tmax, tsize = max(K_UPD * spread_max[-1], floor_max), max(K_UPD * spread_size[-1], floor_size)
            for a, r in enumerate(alts):
                v = meas(r["us"][s])
                alt_max[a].append(v[0]), alt_size[a].append(v[1])
                caught[a] += v[0] > 2 * tmax or v[1] > 2 * tsize
        t[f"upd{s + 1}"] = torch.cat([ref["us"][s][k].flatten() for k in keys]).float()
        if adaptive:
            b = torch.cat(bits).to(torch.uint8)
            b = torch.cat([b, torch.zeros((-len(b)) % 8, dtype=torch.uint8)]).reshape(-1, 8)
            t[f"stable{s + 1}"] = (b * (2 ** torch.arange(8, dtype=torch.uint8))).sum(1).to(torch.uint8)
        t[f"spread_max{s + 1}"] = torch.tensor(spread_max, dtype=torch.float64)
        t[f"spread_size{s + 1}"] = torch.tensor(spread_size, dtype=torch.float64)
        t[f"alt_max{s + 1}"] = torch.tensor(alt_max, dtype=torch.float64)
        t[f"alt_size{s + 1}"] = torch.tensor(alt_size, dtype=torch.float64)
    return t, caught


def make_case(m, x, y, kind, name, meta, full_state, steps=STEPS):
    """The fixture of one model and optimiser: reference (float64 from the
    float32 weights and input), PyTorch's float32 run and noisy runs (the
    spread), the alternatives."""
    m64 = copy.deepcopy(m).double()
    ref = run(copy.deepcopy(m64), x.double(), y, kind)
    W = ref["W"]
    f32 = run(copy.deepcopy(m), x, y, kind, forced=W)
    noise = [{k: rel_max(f32["grads"][s][k], g) for k, g in ref["grads"][s].items()} for s in range(STEPS)]
    others = [f32] + [run(copy.deepcopy(mm), xx, y, kind, forced=W, noise_seed=seed, noise=noise)
                      for mm, xx, seed in ((m, x, 10), (m, x, 11), (m64, x.double(), 0), (m64, x.double(), 1),
                                           (m64, x.double(), "scale"))]
    flips = flip_runs(copy.deepcopy(m64), x.double(), y, kind, ref, steps)
    alts = [run(copy.deepcopy(m64), x.double(), y, kind, forced=W, changes=c) for _, c in ALTERNATIVES[kind]]
    t, caught = update_checks(ref, others + flips, alts, kind != "sgd", OPTIMS[kind][1]["weight_decay"], steps)
    print(name, kind, len(flips), "runs with a kink decided the other way at step 2 or 3", flush=True)
    keep = [a for a in range(len(alts)) if caught[a]]
    for a in range(len(alts)):
        print("  %s: %s" % (ALTERNATIVES[kind][a][0], "%d tensor updates would fail" % caught[a] if caught[a] else
                            "no check can tell it apart, left out"))
    for s in range(1, steps + 1):
        for key in (f"alt_max{s}", f"alt_size{s}"):
            t[key] = t[key][keep]
    t["step_losses"] = torch.tensor(ref["losses"], dtype=torch.float64)
    t["step_losses32"] = torch.tensor(f32["losses"], dtype=torch.float64)
    t["err32.step_losses"] = (t["step_losses32"] - t["step_losses"]).abs() / t["step_losses"].abs()
    for k, v in ref["state"].items():
        if full_state or not k.endswith("weight") and not k.endswith("bias"):
            t["step3." + k] = v.float() if v.is_floating_point() else v
            if v.is_floating_point():
                t["err32.step3." + k] = torch.tensor(rel_max(f32["state"][k], v), dtype=torch.float64)
    t["eval_logits"] = ref["eval_logits"]
    t["err32.eval_logits"] = torch.tensor(rel_max(f32["eval_logits"], ref["eval_logits"]), dtype=torch.float64)
    meta = dict(meta, optimizer=kind, alternatives=",".join(ALTERNATIVES[kind][a][0] for a in keep),
                steps=STEPS, s_stable=S_STABLE)
    hp = OPTIMS[kind][1]
    meta.update(lr=hp["lr"], weight_decay=hp["weight_decay"], momentum=hp.get("momentum", 0),
                momentum_decay=hp.get("momentum_decay", 0))
    return ref, f32, t, meta


def summary(name, t, kind):
    out = []
    for s in range(1, STEPS + 1):
        if f"spread_max{s}" not in t:
            break
        sm = [v for v in t[f"spread_max{s}"].tolist() if v >= 0]
        sz = [v for v in t[f"spread_size{s}"].tolist() if v >= 0]
        sm.sort(), sz.sort()
        if not sm:
            out.append("step %d: no tensor compared" % s)
            continue
        out.append("step %d: %d/%d tensors, float32 spread max %.1e (median) %.1e (worst), size %.1e %.1e" % (
            s, len(sm), len(t[f"spread_max{s}"]), sm[len(sm) // 2], sm[-1], sz[len(sz) // 2], sz[-1]))
    print(name, kind, "losses", t["step_losses"].tolist(), "\n  " + "\n  ".join(out), flush=True)


def make_model(only=()):
    """Writes model_<name>_init.safetensors (PyTorch's initial weights) and
    model_<name>.safetensors: the input, the step-1 logits, per-sample losses
    and gradients, the losses of every step, each step's update of every
    parameter (upd<t>, flat in state-dict order; step 1 only for ONE_STEP),
    the state after STEPS steps (step3.*: all of it in the NAdam fixtures,
    which tests/eval/test_eval_mode.c also loads, the buffers in the SGD and Adam
    ones) and the eval-mode logits there, and the tolerance material. The reference is
    PyTorch in float64 from the same float32 weights and input; err32.<name>
    records how far PyTorch's own float32 run lands from it (max |f32 - f64|
    / max |f64| per tensor, relative for the losses), spread_*<t> how far its
    float32 and noisy runs' updates do, alt_*<t> how far those of the
    ALTERNATIVES do."""
    inputs = {}
    for i, (name, kind, act, final_act) in enumerate(MODEL_CASES):
        if only and name not in only and kind.endswith("-tv"):
            continue  # torchvision is not needed for the other fixtures
        torch.manual_seed(100 + i)
        m = build(kind, act, final_act, CLASSES, WIDTH)
        x = torch.randn(BATCH, 3, SIZE, SIZE)
        y = torch.randint(0, CLASSES, (BATCH,), dtype=torch.int32)
        inputs[name] = (copy.deepcopy(m), x, y)
        init = {k: v.clone() for k, v in m.state_dict().items()}
        if only and name not in only:
            continue
        meta = {"model": kind, "act": act, "final_act": int(final_act), "width": WIDTH, "classes": CLASSES,
                "image_size": SIZE, "batch": BATCH, "steps": STEPS, "torch": torch.__version__,
                "keys": ",".join(init.keys())}
        fixture_io.save(os.path.join(OUT, f"model_{name}_init.safetensors"), init, meta)
        ref, f32, t, meta = make_case(m, x, y, "nadam", name, meta, True, 1 if name in ONE_STEP else STEPS)
        t["x"], t["y"] = x, y
        t["logits"], t["losses"] = ref["logits"], ref["per_sample"]
        t["err32.logits"] = torch.tensor(rel_max(f32["logits"], ref["logits"]), dtype=torch.float64)
        t["err32.losses"] = (f32["per_sample"] - ref["per_sample"]).abs() / ref["per_sample"].abs()
        for k, g in ref["grads"][0].items():
            t["grad." + k] = g.float()
            t["err32.grad." + k] = torch.tensor(rel_max(f32["grads"][0][k], g), dtype=torch.float64)
        fixture_io.save(os.path.join(OUT, f"model_{name}.safetensors"), t, meta)
        summary(name, t, "nadam")
    for name, base, kind in OPTIM_CASES:
        if only and name not in only or base not in inputs:
            continue
        m, x, y = inputs[base]
        btype = [c for c in MODEL_CASES if c[0] == base][0]
        meta = {"model": btype[1], "act": btype[2], "final_act": int(btype[3]), "width": WIDTH, "classes": CLASSES,
                "image_size": SIZE, "batch": BATCH, "torch": torch.__version__, "input": base,
                "keys": ",".join(m.state_dict().keys())}
        _, _, t, meta = make_case(m, x, y, kind, name, meta, False)
        fixture_io.save(os.path.join(OUT, f"model_{name}.safetensors"), t, meta)
        summary(name, t, kind)


if __name__ == "__main__":
    # make_fixtures_model.py [optim] [model [fixture names...]]: everything by default
    what = sys.argv[1:] or ["optim", "model"]
    torch.set_num_threads(min(4, os.cpu_count() or 1))
    if "optim" in what:
        make_optim()
    if "model" in what:
        make_model([a for a in what if a not in ("optim", "model")])
