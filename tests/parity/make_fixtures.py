#!/usr/bin/python3
"""Reference outputs from torchvision, made at test time (Debian's python3-torchvision), for the parity tests.

Every file is an ordinary torch.save: weights as model.state_dict() (an OrderedDict), inputs and outputs as a
plain dict of tensors. Random weights with a fixed seed; batch-norm statistics and affine parameters are
randomised too, so that they matter.

    make_fixtures.py resnet DEPTH OUT_DIR   -> OUT_DIR/model.pth, OUT_DIR/io.pth
    make_fixtures.py fpn OUT_DIR            -> OUT_DIR/model.pth, OUT_DIR/io.pth
    make_fixtures.py pickled_module OUT_DIR -> OUT_DIR/module.pth (a whole nn.Module, not a state dict)
    make_fixtures.py fasterrcnn_train OUT_DIR -> training losses with deterministic samplers (and proposals)
    make_fixtures.py convfc_head OUT_DIR    -> the 4conv1fc box head in eval mode
    make_fixtures.py ops OUT_DIR            -> OUT_DIR/io.pth: nms, roi_align (outputs and input gradients),
                                               MultiScaleRoIAlign
    make_fixtures.py resize OUT_DIR         -> OUT_DIR/io.pth: torchvision's Resize(antialias=True) of uint8 images,
                                               on the tensor and through PIL, and CenterCrop
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


def ops(out):
    from torchvision.ops import MultiScaleRoIAlign, nms, roi_align
    torch.manual_seed(0)
    io = {}
    # NMS: clustered boxes so that many overlap, a few exact score ties.
    centres = torch.rand(300, 2) * 100
    sizes = torch.rand(300, 2) * 30 + 2
    boxes = torch.cat([centres - sizes / 2, centres + sizes / 2], 1)
    scores = torch.rand(300)
    scores[10:20] = scores[0]
    io["nms.boxes"], io["nms.scores"] = boxes, scores
    for t in (0.3, 0.5, 0.7):
        io[f"nms.keep.{t}"] = nms(boxes, scores, t)
    # roi_align on two images, boxes partly outside the map, tiny and large.
    x = torch.randn(2, 3, 20, 24, requires_grad=True)
    b = torch.rand(40, 4) * 120 - 10
    rois = torch.cat([torch.randint(0, 2, (40, 1)).float(), torch.min(b[:, :2], b[:, 2:]), torch.max(b[:, :2], b[:, 2:])], 1)
    io["roi.input"], io["roi.rois"] = x.detach(), rois
    upstream = None
    for aligned in (False, True):
        for ratio in (2, -1):
            y = roi_align(x, rois, (5, 4), spatial_scale=0.25, sampling_ratio=ratio, aligned=aligned)
            if upstream is None:
                upstream = torch.randn_like(y)
                io["roi.upstream"] = upstream
            (grad,) = torch.autograd.grad((y * upstream).sum(), x)
            io[f"roi.out.{int(aligned)}.{ratio}"] = y.detach()
            io[f"roi.grad.{int(aligned)}.{ratio}"] = grad
    # MultiScaleRoIAlign over p2..p5 of a 64x96 image batch.
    feats = OrderedDict((f"p{i}", torch.randn(2, 4, 64 >> i, 96 >> i, requires_grad=True)) for i in range(2, 6))
    pooler = MultiScaleRoIAlign(list(feats), output_size=7, sampling_ratio=2)
    per_image = []
    for i in range(2):
        c = torch.rand(25, 2) * torch.tensor([96.0, 64.0])
        s = torch.rand(25, 2) * 60 + 1
        per_image.append(torch.cat([c - s / 2, c + s / 2], 1))
        io[f"ms.boxes.{i}"] = per_image[-1]
    y = pooler(feats, per_image, [(64, 96), (64, 96)])
    up = torch.randn_like(y)
    grads = torch.autograd.grad((y * up).sum(), list(feats.values()))
    io["ms.out"], io["ms.upstream"] = y.detach(), up
    for name, f, g in zip(feats, feats.values(), grads):
        io[f"ms.feature.{name}"], io[f"ms.grad.{name}"] = f.detach(), g
    # AnchorGenerator as fasterrcnn_resnet50_fpn builds it, on p2..p6 of a padded 64x96 batch.
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList
    generator = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    maps = [torch.zeros(1, 1, 64 >> i, 96 >> i) for i in range(2, 7)]
    images = ImageList(torch.zeros(1, 3, 64, 96), [(60, 90)])
    io["anchors"] = generator(images, maps)[0]
    io["anchors.odd"] = AnchorGenerator(((16, 40),), ((0.7, 1.3),))(ImageList(torch.zeros(1, 3, 50, 70), [(50, 70)]),
                                                                     [torch.zeros(1, 1, 7, 9)])[0]
    torch.save(io, os.path.join(out, "io.pth"))


def rpn(out):
    from torchvision.models.detection.anchor_utils import AnchorGenerator
    from torchvision.models.detection.image_list import ImageList
    from torchvision.models.detection.rpn import RegionProposalNetwork, RPNHead
    torch.manual_seed(0)
    channels = 8
    anchors = AnchorGenerator(((32,), (64,), (128,), (256,), (512,)), ((0.5, 1.0, 2.0),) * 5)
    head = RPNHead(channels, 3)
    for p in head.parameters():  # larger than the 0.01 init so that objectness and deltas vary
        with torch.no_grad():
            p.normal_(0, 0.3)
    net = RegionProposalNetwork(anchors, head, 0.7, 0.3, 256, 0.5, dict(training=2000, testing=300),
                                dict(training=2000, testing=200), 0.7).eval()
    features = OrderedDict((f"p{i}", torch.randn(2, channels, 128 >> i, 160 >> i)) for i in range(2, 7))
    images = ImageList(torch.zeros(2, 3, 128, 160), [(120, 150), (128, 100)])
    with torch.no_grad():
        boxes, _ = net(images, features)
    torch.save(head.state_dict(), os.path.join(out, "model.pth"))
    io = {f"in.{k}": v for k, v in features.items()}
    io.update({f"boxes.{i}": b for i, b in enumerate(boxes)})
    torch.save(io, os.path.join(out, "io.pth"))


def fasterrcnn(out):
    """fasterrcnn_resnet50_fpn (2fc head) in eval mode, run stage by stage on a normalised padded batch."""
    from torchvision.models.detection import fasterrcnn_resnet50_fpn
    from torchvision.models.detection.image_list import ImageList
    torch.manual_seed(0)
    model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=11, box_score_thresh=0.0)
    model.eval()
    randomise_batch_norm(model)  # without pretrained weights torchvision uses BatchNorm2d; random statistics matter
    x = torch.randn(2, 3, 128, 160)
    sizes = [(120, 150), (128, 100)]
    with torch.no_grad():
        features = model.backbone(x)
        proposals, _ = model.rpn(ImageList(x, sizes), features)
        detections, _ = model.roi_heads(features, proposals, sizes)
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    io = {"input": x}
    for i, d in enumerate(detections):
        io[f"proposals.{i}"] = proposals[i]
        for k in ("boxes", "scores", "labels"):
            io[f"{k}.{i}"] = d[k]
    torch.save(io, os.path.join(out, "io.pth"))


def fasterrcnn_train(out):
    """fasterrcnn_resnet50_fpn (2fc head) training losses, stage by stage, with deterministic samplers: torch.randperm
    replaced by arange, so each sampler takes the first positives and negatives in index order."""
    from torchvision.models.detection import fasterrcnn_resnet50_fpn
    from torchvision.models.detection.image_list import ImageList
    torch.manual_seed(0)
    model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=11)
    randomise_batch_norm(model)
    model.train()
    for m in model.modules():  # frozen statistics, as a detector trained from a pretrained backbone
        if isinstance(m, torch.nn.BatchNorm2d):
            m.eval()
    x = torch.randn(2, 3, 128, 160)
    sizes = [(120, 150), (128, 100)]
    targets = [dict(boxes=torch.tensor([[10., 20., 60., 90.], [70., 30., 140., 110.]]), labels=torch.tensor([3, 7])),
               dict(boxes=torch.tensor([[5., 5., 50., 40.], [30., 60., 90., 120.], [20., 10., 80., 100.]]),
                    labels=torch.tensor([1, 10, 4]))]
    randperm = torch.randperm
    torch.randperm = lambda n, *args, **kwargs: torch.arange(n, device=kwargs.get("device"))
    try:
        features = model.backbone(x)
        proposals, rpn_losses = model.rpn(ImageList(x, sizes), features, targets)
        _, roi_losses = model.roi_heads(features, proposals, sizes, targets)
    finally:
        torch.randperm = randperm
    torch.save(model.state_dict(), os.path.join(out, "model.pth"))
    io = {"input": x}
    for i, t in enumerate(targets):
        io[f"boxes.{i}"] = t["boxes"]
        io[f"labels.{i}"] = t["labels"]
        io[f"proposals.{i}"] = proposals[i].detach()
    for k, v in list(rpn_losses.items()) + list(roi_losses.items()):
        io[f"loss.{k}"] = v.detach()
    torch.save(io, os.path.join(out, "io.pth"))


def convfc_head(out):
    """torchvision's FastRCNNConvFCHead as fasterrcnn_resnet50_fpn_v2 builds it (4 conv + BN, 1 fc), eval mode."""
    from torchvision.models.detection.faster_rcnn import FastRCNNConvFCHead
    torch.manual_seed(0)
    head = FastRCNNConvFCHead((16, 7, 7), [16, 16, 16, 16], [32], norm_layer=torch.nn.BatchNorm2d)
    randomise_batch_norm(head)
    head.eval()
    x = torch.randn(5, 16, 7, 7)
    with torch.no_grad():
        y = head(x)
    torch.save(head.state_dict(), os.path.join(out, "model.pth"))
    torch.save({"input": x, "output": y}, os.path.join(out, "io.pth"))


def resize(out):
    """Odd-sized uint8 images through torchvision's evaluation transform: Resize(size) with antialias on the tensor
    and through PIL (BILINEAR), then CenterCrop. HWC uint8 everywhere; `request.i` = [size, crop_h, crop_w]."""
    import numpy as np
    from PIL import Image
    import torchvision.transforms.functional as F
    torch.manual_seed(0)
    io = {}
    # shrinking by 2.3x and by 1.2x, growing, and a portrait image; crops of even and odd margins
    cases = [((101, 67), 29, (27, 27)), ((37, 53), 31, (30, 29)), ((20, 30), 45, (45, 44)), ((161, 97), 96, (95, 96))]
    for i, ((h, w), size, (ch, cw)) in enumerate(cases):
        smooth = torch.nn.functional.interpolate(torch.rand(1, 3, max(2, h // 6), max(2, w // 6)), size=(h, w),
                                                 mode="bicubic", align_corners=False)[0]
        image = (smooth.clamp(0, 1) * 200 + torch.rand(3, h, w) * 55).to(torch.uint8)  # texture at every scale
        tensor = F.resize(image, [size], antialias=True)
        pil = torch.from_numpy(np.array(F.resize(Image.fromarray(image.permute(1, 2, 0).numpy()), [size])))
        io[f"image.{i}"] = image.permute(1, 2, 0).contiguous()
        io[f"tensor.{i}"] = tensor.permute(1, 2, 0).contiguous()
        io[f"pil.{i}"] = pil
        io[f"crop.{i}"] = F.center_crop(tensor, [ch, cw]).permute(1, 2, 0).contiguous()
        io[f"request.{i}"] = torch.tensor([size, ch, cw])
    torch.save(io, os.path.join(out, "io.pth"))


def pickled_module(out):
    torch.save(torch.nn.Linear(3, 2), os.path.join(out, "module.pth"))


if __name__ == "__main__":
    what, args = sys.argv[1], sys.argv[2:]
    if what == "resnet":
        resnet(int(args[0]), args[1])
    elif what == "fpn":
        fpn(args[0])
    elif what == "ops":
        ops(args[0])
    elif what == "rpn":
        rpn(args[0])
    elif what == "fasterrcnn":
        fasterrcnn(args[0])
    elif what == "fasterrcnn_train":
        fasterrcnn_train(args[0])
    elif what == "convfc_head":
        convfc_head(args[0])
    elif what == "resize":
        resize(args[0])
    elif what == "pickled_module":
        pickled_module(args[0])
    else:
        sys.exit(f"unknown fixture {what}")
