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
  model's eval-mode logits, computed in float64 from those float32 weights;
- tv_resnet50_w16_c10_freeze.safetensors: one fine-tuning step from those
  weights as common recipes take it (tests/train/test_finetune.c): conv1,
  bn1 and layer1..layer3 frozen (requires_grad False, their batch norms in
  eval mode), NAdam over what is left in two parameter groups, layer4 at lr
  and the classifier fc at head_lr. It holds the batch, the loss, the
  gradients, each trained tensor's update (float64 reference, and float32
  torch's beside it) and layer4's running statistics after the step;
- tv_resnet_names.safetensors: the state-dict names and shapes, in order, of
  torchvision's resnet18, 34, 50, 101 and 152 (width 1/16, 10 classes), in
  its metadata, for the resnet*-tv models' layouts."""
import os
import sys

import torch
from safetensors.torch import save_file

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import fixture_io  # noqa: E402
from make_fixtures_model import TV_DEPTHS, torchvision_resnet  # noqa: E402

OUT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "fixtures")
WIDTH, CLASSES, SIZE, BATCH = 1 / 16, 10, 64, 2


def main():
    torch.manual_seed(2027)
    m = torchvision_resnet(50, CLASSES, WIDTH)
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
    freeze_step(m.float().train())
    names = {}
    for depth in TV_DEPTHS:
        sd = torchvision_resnet(depth, CLASSES, WIDTH).state_dict()
        names[f"resnet{depth}-tv"] = ",".join(k + "=" + "x".join(str(d) for d in v.shape) for k, v in sd.items())
    fixture_io.save(os.path.join(OUT, "tv_resnet_names.safetensors"), {"none": torch.zeros(1)},
                    dict(names, torch=torch.__version__, width=WIDTH, classes=CLASSES))


FREEZE, LR, HEAD_LR, STEP_BATCH = "layer3", 1e-3, 1e-2, 4
FROZEN = ("conv1", "bn1", "layer1", "layer2", "layer3")


def fine_tune_step(m, x, y):
    """The step of a fine-tuning recipe on model m (float32 or float64)."""
    for name, mod in m.named_children():
        if name in FROZEN:
            mod.eval()
            for p in mod.parameters():
                p.requires_grad_(False)
    body = [p for n, p in m.named_parameters() if p.requires_grad and not n.startswith("fc.")]
    opt = torch.optim.NAdam([{"params": body, "lr": LR}, {"params": m.fc.parameters(), "lr": HEAD_LR}],
                            weight_decay=1e-4, momentum_decay=4e-3)
    loss = torch.nn.functional.cross_entropy(m(x), y)
    opt.zero_grad()
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in m.named_parameters() if p.grad is not None}
    opt.step()
    return loss.item(), grads


def freeze_step(m32):
    import copy
    torch.manual_seed(2028)
    x = torch.randn(STEP_BATCH, 3, SIZE, SIZE)
    y = torch.randint(0, CLASSES, (STEP_BATCH,))
    m64 = copy.deepcopy(m32).double().train()
    before = {k: v.detach().double().clone() for k, v in m32.state_dict().items()}
    loss64, grads = fine_tune_step(m64, x.double(), y)
    loss32, _ = fine_tune_step(m32, x, y)
    after64, after32 = m64.state_dict(), m32.state_dict()
    t = {"x": x, "y": y.int(), "loss": torch.tensor([loss64], dtype=torch.float64)}
    for n, g in grads.items():
        t["grad." + n] = g.float()
        t["upd." + n] = (after64[n] - before[n]).float()
        t["upd32." + n] = (after32[n].double() - before[n]).float()
    for n, v in after64.items():
        if n.startswith("layer4.") and ("running_" in n):
            t["after." + n] = v.clone()
    for n, v in after64.items():  # what the recipe leaves alone, it leaves bit for bit
        if n.split(".")[0] in FROZEN:
            assert torch.equal(after32[n].double(), before[n]), n
    fixture_io.save(os.path.join(OUT, "tv_resnet50_w16_c10_freeze.safetensors"), t,
                    {"torch": torch.__version__, "freeze": FREEZE, "lr": LR, "head_lr": HEAD_LR, "batch": STEP_BATCH,
                     "trained": ",".join(grads)})
    print("freeze step: loss", loss64, "float32", loss32, len(grads), "tensors trained")


if __name__ == "__main__":
    main()
