#!/usr/bin/env python3
"""Makes tests/fixtures/schedule_plateau.safetensors: scripted validation-loss
sequences and the lr PyTorch's ReduceLROnPlateau gives after each step, for
default and non-default settings. Run with /usr/bin/python3."""
import os

import torch

import fixture_io

here = os.path.dirname(os.path.abspath(__file__))
g = torch.Generator().manual_seed(0)
cases = {
    # name: (losses, kwargs)
    "flat": ([1.0] * 40, {}),
    "tiny_gains": ([1.0 - 1e-6 * i for i in range(40)], {}),
    "noisy_down": ((torch.cat([torch.linspace(3, 1, 30), torch.ones(30)]) + 0.3 * torch.rand(60, generator=g)).tolist(), {}),
    "custom": ((torch.linspace(2, 1.5, 50) + 0.2 * torch.rand(50, generator=g)).tolist(),
               dict(factor=0.5, patience=3, threshold=1e-2, cooldown=2, min_lr=1e-4)),
}
out, meta = {}, {}
for name, (losses, kw) in cases.items():
    p = torch.nn.Parameter(torch.zeros(1))
    opt = torch.optim.SGD([p], lr=1e-3)
    s = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, "min", **kw)
    lrs = []
    for v in losses:
        s.step(v)
        lrs.append(opt.param_groups[0]["lr"])
    out[name + ".loss"] = torch.tensor(losses, dtype=torch.float64)
    out[name + ".lr"] = torch.tensor(lrs, dtype=torch.float64)
    meta[name] = ",".join("%s=%r" % kv for kv in sorted(kw.items()))
fixture_io.save(os.path.join(here, "fixtures", "schedule_plateau.safetensors"), out, meta)
