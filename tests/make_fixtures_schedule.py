#!/usr/bin/env python3
"""Makes tests/fixtures/schedule_plateau.safetensors: scripted validation-loss
sequences and the lr PyTorch's ReduceLROnPlateau (mode "min") gives after each
step, for default and non-default settings. Run with /usr/bin/python3
(Debian's torch 1.13).

Per case NAME:
  NAME.loss      F64 [n]  the metric fed to step()
  NAME.lr        F64 [n]  the lr after each step (threshold_mode "rel", ours)
  NAME.lr_abs    F64 [n]  the same with threshold_mode "abs" (only the cases
                          built to tell the two modes apart; they differ)
  NAME.settings  F64 [7]  lr0, factor, patience, threshold, cooldown, min_lr, eps
                          (tests/train/test_schedule.c configures crn_plateau from it)

The first four cases are near 1.0, where "rel" and "abs" agree. The others sit
far from 1 (near 50, where a relative threshold is 50x the absolute one, and
near 0.01, where it is 100x smaller) and step by 1.2x or 0.8x of the relative
margin threshold * best (just above / just below it), so that replacing the
relative test by the absolute one changes when the lr is cut. They also use
cooldown > 0, reach min_lr, and one has a last cut smaller than eps (ignored).
"""
import os

import torch

import fixture_io

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(0)
DEFAULTS = dict(factor=0.1, patience=10, threshold=1e-4, cooldown=0, min_lr=0.0, eps=1e-8)


def scripted(start, threshold, steps):
    """A loss sequence from `start`. A number f in steps is f relative
    margins below the best value so far under the "rel" rule (next = best *
    (1 - f * threshold)): f = 1.2 is a gain, 0.8 or 0 is not, a negative f is
    a worse epoch. A pair ("d", x) is x below the previous value: with x
    between the absolute margin and the relative one, a gain for "abs" at
    every step, for "rel" only once they add up to more than threshold * best."""
    out, best = [start], start
    for f in steps:
        v = out[-1] - f[1] if isinstance(f, tuple) else best * (1.0 - f * threshold)
        out.append(v)
        if v < best * (1.0 - threshold):
            best = v
    return out


cases = {
    # name: (losses, kwargs, lr0, tells_modes_apart)
    "flat": ([1.0] * 40, {}, 1e-3, False),
    "tiny_gains": ([1.0 - 1e-6 * i for i in range(40)], {}, 1e-3, False),
    "noisy_down": ((torch.cat([torch.linspace(3, 1, 30), torch.ones(30)]) + 0.3 * torch.rand(60, generator=g)).tolist(),
                   {}, 1e-3, False),
    "custom": ((torch.linspace(2, 1.5, 50) + 0.2 * torch.rand(50, generator=g)).tolist(),
               dict(factor=0.5, patience=3, threshold=1e-2, cooldown=2, min_lr=1e-4), 1e-3, False),
    # Near 50, default settings: the relative margin is 5e-3, the absolute
    # 1e-4. Steps of 2e-4 are gains for "abs" only (rel: 11 bad epochs, a
    # cut); then 1.2 / 0.8 relative margins (just above / below the margin).
    "near50_default": (scripted(50.0, 1e-4, [1.2] * 3 + [("d", 2e-4)] * 14 + [0.8, 1.2, 0.8, 0.8, 1.2]
                                + [0.0] * 12 + [("d", 3e-4)] * 12 + [-3.0] * 3),
                       {}, 1e-3, True),
    # Near 50, threshold 1e-3 (relative margin 0.05, absolute 1e-3), cooldown
    # 3, patience 2, factor 0.5 down to min_lr 0.02: 0.1 -> 0.05 -> 0.025 ->
    # 0.02 (clamped), then it stays. Steps of 0.01 are gains for "abs" only.
    "near50_custom": (scripted(50.0, 1e-3, [1.2, 0.8, 1.2] + [("d", 0.01)] * 8 + [0.8, 0.8, 1.2] * 3
                               + [("d", 0.01)] * 10 + [0.0] * 10 + [-1.0] * 4),
                      dict(factor=0.5, patience=2, threshold=1e-3, cooldown=3, min_lr=0.02), 0.1, True),
    # Near 0.01, threshold 2e-2: the relative margin is 0.01 * 2e-2 = 2e-4,
    # the absolute one 2e-2 (twice the loss itself: "abs" never sees a gain
    # after the first epoch). Steps of 1.2 margins are gains for "rel" only,
    # 0.8 for neither; patience 1, cooldown 2, factor 0.3, min_lr 1e-5. Runs
    # of 1.05 and 0.95 margins: a threshold 10% off either way cuts at
    # another epoch.
    "near001_custom": (scripted(0.01, 2e-2, [1.2] * 6 + [0.8, 1.2] * 4 + [0.8] * 6 + [1.2] * 3 + [1.05] * 4
                                + [0.95] * 4 + [0.0] * 10),
                       dict(factor=0.3, patience=1, threshold=2e-2, cooldown=2, min_lr=1e-5), 1e-3, True),
    # Near 0.01, default settings: the relative margin is 1e-6, the absolute
    # 1e-4. Steps of 1.2 relative margins (1.2e-6) are gains for "rel" only:
    # "abs" cuts after 11 epochs, "rel" only once the loss stops moving.
    "near001_default": (scripted(0.01, 1e-4, [1.2] * 16 + [0.8] * 12 + [1.2] * 2 + [0.0] * 14),
                        {}, 1e-3, True),
    # min_lr and eps: factor 0.5 from 1e-3 with min_lr 2.5e-4 - 5e-9; the
    # third cut would be 5e-9, below eps = 1e-8, so the lr stays at 2.5e-4.
    "min_lr_eps": (scripted(3.0, 1e-4, [0.0] * 3 + [1.2] + [0.0] * 10),
                   dict(factor=0.5, patience=0, threshold=1e-4, cooldown=1, min_lr=2.5e-4 - 5e-9), 1e-3, False),
}


def run(losses, kw, lr0, mode):
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=lr0)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, "min", threshold_mode=mode, **kw)
    lrs = []
    for v in losses:
        s.step(v)
        lrs.append(opt.param_groups[0]["lr"])
    return lrs


out, meta = {}, {}
for name, (losses, kw, lr0, apart) in cases.items():
    lrs = run(losses, kw, lr0, "rel")
    cuts = sum(b < a for a, b in zip([lr0] + lrs, lrs))
    assert cuts > 0, name  # every sequence makes the schedule act
    out[name + ".loss"] = torch.tensor(losses, dtype=torch.float64)
    out[name + ".lr"] = torch.tensor(lrs, dtype=torch.float64)
    s = dict(DEFAULTS, **kw)
    out[name + ".settings"] = torch.tensor([lr0, s["factor"], s["patience"], s["threshold"], s["cooldown"],
                                           s["min_lr"], s["eps"]], dtype=torch.float64)
    note = ""
    if apart:
        lrs_abs = run(losses, kw, lr0, "abs")
        assert lrs_abs != lrs, name + ": rel and abs agree"
        out[name + ".lr_abs"] = torch.tensor(lrs_abs, dtype=torch.float64)
        note = ", abs: %d cuts, first difference at step %d" % (
            sum(b < a for a, b in zip([lr0] + lrs_abs, lrs_abs)),
            next(i for i, (a, b) in enumerate(zip(lrs, lrs_abs)) if a != b))
    if name == "min_lr_eps":
        assert lrs[-1] == 2.5e-4, lrs  # the cut below eps was ignored
    if "min_lr" in kw and kw["min_lr"] > 0 and name != "custom":
        assert min(lrs) <= kw["min_lr"] + 1e-8, name + ": min_lr not reached"
    meta[name] = ",".join("%s=%r" % kv for kv in sorted(dict(kw, lr0=lr0).items()))
    print("%-16s %3d steps, %d cuts, final lr %.6g%s" % (name, len(losses), cuts, lrs[-1], note))
meta["torch"] = torch.__version__
fixture_io.save(os.path.join(here, "fixtures", "schedule_plateau.safetensors"), out, meta)
