#!/usr/bin/env python3
"""PyTorch's F.conv2d (oneDNN on CPUs) on the shapes that `clresnet bench
--convs --json` printed (one JSON object per line on stdin): forward, and
backward (input and weight gradients; weight only where clresnet's line says
dx false), median of --steps calls after one warm-up, as GFLOP/s. Prints the
same lines with torch_fwd_gflops / torch_bwd_gflops added.
usage: clresnet bench --convs --json ... | torch_conv.py [--threads T] [--steps N]"""
import argparse
import json
import sys
import time

import torch
import torch.nn.functional as F


def median_time(fn, steps):
    fn()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--threads", type=int, default=0)
    ap.add_argument("--steps", type=int, default=3)
    a = ap.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    for line in sys.stdin:
        line = line.strip()
        if not line.startswith("{"):
            continue
        s = json.loads(line)
        x = torch.randn(s["n"], s["cin"], s["h"], s["h"], requires_grad=s["dx"])
        w = torch.randn(s["cout"], s["cin"], s["k"], s["k"], requires_grad=True)
        with torch.no_grad():
            y = F.conv2d(x, w, stride=s["stride"], padding=s["pad"])
        flops = 2.0 * y.numel() * s["cin"] * s["k"] * s["k"]
        with torch.no_grad():
            tf = median_time(lambda: F.conv2d(x, w, stride=s["stride"], padding=s["pad"]), a.steps)
        dy = torch.randn_like(y)
        inputs = (x, w) if s["dx"] else (w,)

        out = F.conv2d(x, w, stride=s["stride"], padding=s["pad"])
        tb = median_time(lambda: torch.autograd.grad(out, inputs, dy, retain_graph=True), a.steps)
        s["torch_fwd_gflops"] = round(flops / tf * 1e-9, 1)
        s["torch_bwd_gflops"] = round(flops * len(inputs) / tb * 1e-9, 1)
        print(json.dumps(s), flush=True)


if __name__ == "__main__":
    main()
