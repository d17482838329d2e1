#!/usr/bin/env python3
"""Times the training step clresnet's `bench` times, in PyTorch: the seed's
models (tests/make_fixtures_model.py holds them, copied from seed_torch.py),
random data, CrossEntropyLoss, NAdam (lr 1e-3, weight decay 1e-4); warm-up,
then the median of N steps. Prints one JSON line with images_per_s.
--freeze STAGE (resnet50-tv, which needs torchvision) times the fine-tuning
step of `clresnet bench --freeze`: conv1/bn1 (stem) and layer1.. up to
STAGE without gradients, their batch norms in eval mode, NAdam over the rest.
  CPU:  /usr/bin/python3 tests/bench/torch_step.py --threads 2
  CUDA: python3 tests/bench/torch_step.py --device cuda   (fp32, cudnn.benchmark)"""
import argparse
import json
import os
import statistics
import sys
import time

import torch
import torch.nn as nn

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from make_fixtures_model import build  # noqa: E402


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--model", default="resnet50")
    p.add_argument("--act", default="relu")
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--image-size", type=int, default=224)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=0)
    p.add_argument("--device", default="cpu")
    p.add_argument("--freeze", default=None)
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    dev = torch.device(a.device)
    if dev.type == "cuda":
        torch.backends.cudnn.benchmark = True
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    model = build(a.model, a.act, True, 102, 1.0).to(dev).train()
    if a.freeze:
        stages = ["stem", "layer1", "layer2", "layer3", "layer4"]
        frozen = {"conv1", "bn1"} | set(stages[1:stages.index(a.freeze) + 1])
        for name, mod in model.named_children():
            if name in frozen:
                mod.eval()
                for q in mod.parameters():
                    q.requires_grad_(False)
    opt = torch.optim.NAdam([q for q in model.parameters() if q.requires_grad], lr=1e-3, weight_decay=1e-4)
    lossf = nn.CrossEntropyLoss()
    x = torch.randn(a.batch_size, 3, a.image_size, a.image_size, device=dev)
    y = torch.arange(a.batch_size, device=dev) % 102

    def step():
        opt.zero_grad()
        loss = lossf(model(x), y)
        loss.backward()
        opt.step()
        if dev.type == "cuda":
            torch.cuda.synchronize()

    for _ in range(a.warmup):
        step()
    times = []
    for _ in range(a.steps):
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
    med = statistics.median(times)
    print(json.dumps({"framework": "pytorch " + torch.__version__, "device": str(dev) if dev.type != "cuda" else
                      torch.cuda.get_device_name(), "threads": torch.get_num_threads(), "model": a.model,
                      "freeze": a.freeze, "batch_size": a.batch_size, "image_size": a.image_size, "steps": a.steps,
                      "median_step_s": round(med, 6), "images_per_s": round(a.batch_size / med, 3)}))


if __name__ == "__main__":
    main()
