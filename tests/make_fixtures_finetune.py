#!/usr/bin/env python3
"""Regenerates the fine-tuning fixtures of tests/nn/test_weights.c with the
torchvision and safetensors packages (torch 2.x from PyPI, e.g. in a venv:
python3 -m venv V && V/bin/pip install torch torchvision safetensors;
V/bin/python tests/make_fixtures_finetune.py):

- tv_resnet50_w16_c10.safetensors: a torchvision ResNet50 state dict as
  safetensors.torch.save_file writes it (width 1/16, 10 classes, seeded,
  with BatchNorm running statistics moved off their initial 0 / 1 so that
  eval mode is a real test), what `clresnet train --model resnet50-tv
  --init FILE` takes;
- tv_resnet50_w16_c10_eval.safetensors: a batch of 2 64x64 inputs and the
  model's eval-mode logits, computed in float64 from those float32 weights."""
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402
from make_fixtures_model import torchvision_resnet50  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
WIDTH, CLASSES, SIZE, BATCH = 1 / 16, 10, 64, 2


def main():
    torch.manual_seed(2027)
    m = torchvision_resnet50(CLASSES, WIDTH)
    with torch.no_grad():
        for mod in m.modules():
            if isinstance(mod, torch.nn.BatchNorm2d):
                mod.running_mean.normal_(0, 0.1)
                mod.running_var.uniform_(0.5, 1.5)
                mod.weight.uniform_(0.5, 1.5)
                mod.bias.normal_(0, 0.1)
                mod.num_batches_tracked.fill_(7)
    sd = {k: v.contiguous() for k, v in m.state_dict().items()}
    save_file(sd, os.path.join(OUT, "tv_resnet50_w16_c10.safetensors"))
    x = torch.randn(BATCH, 3, SIZE, SIZE)
    ref = m.double().eval()
    with torch.no_grad():
        logits = ref(x.double())
    fixture_io.save(os.path.join(OUT, "tv_resnet50_w16_c10_eval.safetensors"), {"x": x, "logits": logits},
                    {"torch": torch.__version__, "width": WIDTH, "classes": CLASSES, "image_size": SIZE,
                     "batch": BATCH})
    print("logits", logits.tolist())


if __name__ == "__main__":
    main()
