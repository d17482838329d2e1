#!/usr/bin/python3
"""A tiny image folder for the training tests (tests/fixtures/train_tiny):
ROOT/{train,val,test}/CLASS/*.jpg, 3 classes told apart by colour and a
simple pattern, 40x40 px with per-image noise. Deterministic (seeded)."""
import os
import numpy as np
from PIL import Image

ROOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures", "train_tiny")
COUNTS = {"train": 8, "val": 4, "test": 4}
SIZE = 40


def image(cls, rng):
    base = np.array([[200, 40, 40], [40, 180, 40], [40, 60, 200]][cls], dtype=np.float64)
    base = base * rng.uniform(0.7, 1.1)
    y, x = np.mgrid[0:SIZE, 0:SIZE]
    if cls == 0:
        pat = ((x // 8) % 2)[..., None]        # vertical stripes
    elif cls == 1:
        pat = ((y // 8) % 2)[..., None]        # horizontal stripes
    else:
        pat = (((x + y) // 10) % 2)[..., None]  # diagonal
    img = base + 40.0 * pat + rng.normal(0, 12, (SIZE, SIZE, 3))
    return Image.fromarray(np.clip(img, 0, 255).astype(np.uint8), "RGB")


def main():
    rng = np.random.default_rng(6)
    for split, n in COUNTS.items():
        for cls, name in enumerate(["alpha", "beta", "gamma"]):
            d = os.path.join(ROOT, split, name)
            os.makedirs(d, exist_ok=True)
            for i in range(n):
                image(cls, rng).save(os.path.join(d, f"{name}_{i:02d}.jpg"), quality=85)


if __name__ == "__main__":
    main()
