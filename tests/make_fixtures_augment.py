#!/usr/bin/env python3
"""Makes tests/fixtures/augment_torchvision.safetensors: the distributions of
torchvision's random augmentation parameters, drawn with torchvision's own
get_params (and its `torch.rand(1) < p` for the flips), for the test of
clresnet's sampling (tests/data/test_augment.c). Counts per histogram bin over N
draws, for a resized image of H x W cropped to S, as the seed protocol's
augmentation: flip 0.5, rotation 15 degrees, grayscale 0.1, jitter 0.2 each.
Run with Debian's torch: /usr/bin/python3 tests/make_fixtures_augment.py"""
import itertools
import os
import sys

import torch
import torchvision.transforms as T

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402

N, H, W, S = 20000, 73, 90, 64
FLIP, DEG, GRAY, JIT = 0.5, 15.0, 0.1, 0.2
BINS = 10
torch.manual_seed(0)
img = torch.zeros(3, H, W)
tops, lefts, flips, grays, angles, facs, perms = [], [], 0, 0, [], [[], [], []], {}
for p in itertools.permutations(range(3)):
    perms[p] = 0
for _ in range(N):
    i, j, _, _ = T.RandomCrop.get_params(img, (S, S))
    tops.append(i)
    lefts.append(j)
    flips += int(torch.rand(1) < FLIP)
    angles.append(T.RandomRotation.get_params([-DEG, DEG]))
    grays += int(torch.rand(1) < GRAY)
    r = (1 - JIT, 1 + JIT)
    fn_idx, b, c, s, _ = T.ColorJitter.get_params(r, r, r, None)
    for k, v in enumerate((b, c, s)):
        facs[k].append(v)
    perms[tuple(int(f) for f in fn_idx if f < 3)] += 1  # the order of brightness, contrast, saturation


def hist(v, lo, hi):
    return torch.histc(torch.tensor(v, dtype=torch.float64), bins=BINS, min=lo, max=hi)


t = {
    "top": torch.bincount(torch.tensor(tops), minlength=H - S + 1).double(),
    "left": torch.bincount(torch.tensor(lefts), minlength=W - S + 1).double(),
    "flip": torch.tensor([flips], dtype=torch.float64),
    "grayscale": torch.tensor([grays], dtype=torch.float64),
    "angle": hist(angles, -DEG, DEG),
    "brightness": hist(facs[0], 1 - JIT, 1 + JIT),
    "contrast": hist(facs[1], 1 - JIT, 1 + JIT),
    "saturation": hist(facs[2], 1 - JIT, 1 + JIT),
    # permutations in itertools' order: (0,1,2), (0,2,1), (1,0,2), ...
    "order": torch.tensor([perms[p] for p in itertools.permutations(range(3))], dtype=torch.float64),
}
meta = {"n": N, "h": H, "w": W, "s": S, "hflip": FLIP, "rotation": DEG, "grayscale": GRAY, "jitter": JIT,
        "bins": BINS, "torchvision": __import__("torchvision").__version__}
fixture_io.save(os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "augment_torchvision.safetensors"),
                t, meta)
print({k: v.tolist() for k, v in t.items()})
