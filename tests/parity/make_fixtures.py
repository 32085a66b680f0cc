#!/usr/bin/python3
"""Reference outputs from torchvision, made at test time (Debian's python3-torchvision), for the parity tests.

Every file is an ordinary torch.save: weights as model.state_dict() (an OrderedDict), inputs and outputs as a
plain dict of tensors. Random weights with a fixed seed; batch-norm statistics and affine parameters are
randomised too, so that they matter.

    make_fixtures.py resnet DEPTH OUT_DIR   -> OUT_DIR/model.pth, OUT_DIR/io.pth
    make_fixtures.py fpn OUT_DIR            -> OUT_DIR/model.pth, OUT_DIR/io.pth
    make_fixtures.py pickled_module OUT_DIR -> OUT_DIR/module.pth (a whole nn.Module, not a state dict)
"""
import os
import sys
from collections import OrderedDict

import torch
import torchvision
from torchvision.ops import FeaturePyramidNetwork
from torchvision.ops.feature_pyramid_network import LastLevelMaxPool


def randomise_batch_norm(model):
    for m in model.modules():
        if isinstance(m, torch.nn.BatchNorm2d):
            with torch.no_grad():
                m.weight.uniform_(0.5, 1.5)
                m.bias.uniform_(-0.2, 0.2)
                m.running_mean.uniform_(-0.2, 0.2)
                m.running_var.uniform_(0.5, 1.5)


def resnet(depth, out):
    torch.manual_seed(0)
    model = getattr(torchvision.models, f"resnet{depth}")(num_classes=10)
    randomise_batch_norm(model)
    x = torch.randn(2, 3, 64, 80)
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    model.eval()
    with torch.no_grad():
        eval_logits = model(x)
    model.train()
    with torch.no_grad():
        train_logits = model(x)  # batch statistics
    torch.save({"input": x, "eval_logits": eval_logits, "train_logits": train_logits}, os.path.join(out, "io.pth"))


def fpn(out):
    torch.manual_seed(0)
    channels = [16, 32, 64, 128]
    model = FeaturePyramidNetwork(channels, 32, extra_blocks=LastLevelMaxPool())
    for p in model.parameters():  # torchvision initialises biases to 0; make them matter
        with torch.no_grad():
            p.add_(torch.randn_like(p) * 0.1)
    sizes = [(33, 41), (17, 21), (9, 11), (5, 6)]  # odd sizes exercise the nearest upsampling to exact shapes
    inputs = OrderedDict((f"res{i + 2}", torch.randn(2, c, h, w)) for i, (c, (h, w)) in enumerate(zip(channels, sizes)))
    with torch.no_grad():
        outputs = model(inputs)
    io = {f"in.{k}": v for k, v in inputs.items()}
    io.update({f"out.{k}": v for k, v in outputs.items()})  # keys res2..res5 then pool
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    torch.save(io, os.path.join(out, "io.pth"))


def pickled_module(out):
    torch.save(torch.nn.Linear(3, 2), os.path.join(out, "module.pth"))


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "resnet":
        resnet(int(args[0]), args[1])
    elif what == "fpn":
        fpn(args[0])
    elif what == "pickled_module":
        pickled_module(args[0])
    else:
        sys.exit(f"unknown fixture {what}")
