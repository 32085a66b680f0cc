#!/usr/bin/python3
"""The PyTorch peer of `must_bench_model --which detection`: torchvision's fasterrcnn_resnet50_fpn (frozen batch
norm, 2fc head, 91 classes) on two 512x512 images with 6 boxes each, stage by stage (backbone, rpn, roi_heads:
no GeneralizedRCNNTransform resizing), training step (SGD, momentum) and inference. Run with /usr/bin/python3."""
import os
import time

import torch
from torchvision.models.detection import fasterrcnn_resnet50_fpn
from torchvision.models.detection.image_list import ImageList
from torchvision.ops.misc import FrozenBatchNorm2d


def main():
    torch.set_num_threads(int(os.environ.get("THREADS", os.cpu_count())))
    iters = int(os.environ.get("ITERS", "3"))
    torch.manual_seed(0)
    model = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=91,
                                    norm_layer=FrozenBatchNorm2d)  # without weights every layer trains
    b, s = 2, 512
    x = torch.randn(b, 3, s, s)
    sizes = [(s, s)] * b
    targets = []
    for _ in range(b):
        corner = torch.rand(6, 2) * 400
        size = torch.rand(6, 2) * 100 + 12
        targets.append({"boxes": torch.cat([corner, corner + size], 1), "labels": torch.randint(1, 91, (6,))})
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)

    def forward(with_targets):
        features = model.backbone(x)
        proposals, rpn_losses = model.rpn(ImageList(x, sizes), features, targets if with_targets else None)
        detections, roi_losses = model.roi_heads(features, proposals, sizes, targets if with_targets else None)
        return detections, {**rpn_losses, **roi_losses}

    def step():
        _, losses = forward(True)
        loss = sum(losses.values())
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    model.train()
    for _ in range(2):
        step()
    t = time.perf_counter()
    for _ in range(iters):
        step()
    train = b * iters / (time.perf_counter() - t)
    model.eval()
    with torch.no_grad():
        for _ in range(2):
            forward(False)
        t = time.perf_counter()
        for _ in range(iters):
            forward(False)
        infer = b * iters / (time.perf_counter() - t)
    print(f"peer_detection_infer: {infer:.2f} images/s")
    print(f"peer_detection_train: {train:.2f} images/s")


if __name__ == "__main__":
    main()
