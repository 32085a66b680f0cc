# The world's classification teacher in plain PyTorch, apart from this project's engine: the same model and schedule
# as configs/world/teachers/classification.yaml, so a gap between the two is the engine's and a limit both share is
# the world's. ResNet-18 at half width (standard 7x7 stride-2 stem and max-pool), a linear classifier on the
# average-pooled res5; AdamW 0.002 (weight decay 0.05, none on 1-D parameters), a 50-step linear warm-up from 1%,
# cosine decay to 0, batch 32, horizontal flips, gradients clipped to norm 10, ImageNet normalisation.
#   /usr/bin/python3 bench/peers/peer_world_classification.py --train WORLD/teacher_classification --val WORLD/val \
#       [--epochs 8] [--threads 2] [--seed 0]
# Prints the validation top-1 after each epoch, then one line: "peer top1 <value> in <seconds> s".
import argparse
import math
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from PIL import Image

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


def load(split_dir):
    """A world split's images and classes (its classification.txt), normalised, as tensors."""
    images, classes = [], []
    with open(f"{split_dir}/classification.txt") as listing:
        for line in listing:
            path, label = line.split()
            images.append(np.asarray(Image.open(f"{split_dir}/{path}").convert("RGB")))
            classes.append(int(label))
    x = torch.tensor(np.stack(images)).permute(0, 3, 1, 2).float() / 255.0
    return (x - MEAN) / STD, torch.tensor(classes)


class Block(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.conv1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(cout)
        self.down = (nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))
                     if stride != 1 or cin != cout else nn.Identity())

    def forward(self, x):
        return F.relu(self.bn2(self.conv2(F.relu(self.bn1(self.conv1(x))))) + self.down(x))


class Net(nn.Module):
    def __init__(self, classes, width=32):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, width, 7, 2, 3, bias=False), nn.BatchNorm2d(width), nn.ReLU(),
                                  nn.MaxPool2d(3, 2, 1))
        layers, cin = [], width
        for i, cout in enumerate([width, 2 * width, 4 * width, 8 * width]):
            layers += [Block(cin, cout, 1 if i == 0 else 2), Block(cout, cout, 1)]
            cin = cout
        self.layers = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.layers(self.stem(x)).mean((2, 3)))


def top1(net, x, y):
    net.eval()
    with torch.no_grad():
        predicted = torch.cat([net(x[i:i + 250]).argmax(1) for i in range(0, len(x), 250)])
    net.train()
    return (predicted == y).float().mean().item() * 100


def main():
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--train", required=True)
    parser.add_argument("--val", required=True)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    x_train, y_train = load(args.train)
    x_val, y_val = load(args.val)
    net = Net(int(max(y_train.max(), y_val.max())) + 1)
    decayed = [p for p in net.parameters() if p.dim() > 1]
    plain = [p for p in net.parameters() if p.dim() <= 1]
    optimizer = torch.optim.AdamW([{"params": decayed, "weight_decay": 0.05}, {"params": plain, "weight_decay": 0.0}],
                                  lr=0.002)
    batch, warmup = 32, 50
    steps_per_epoch = len(x_train) // batch
    total = args.epochs * steps_per_epoch

    def factor(step):  # as the engine's cosine schedule with a linear warm-up
        decay = 0.5 * (1 + math.cos(math.pi * min(step / total, 1.0)))
        if step < warmup:
            alpha = step / warmup
            decay *= 0.01 * (1 - alpha) + alpha
        return decay

    schedule = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    start = time.time()
    for epoch in range(args.epochs):
        order = torch.randperm(len(x_train))
        for b in range(steps_per_epoch):
            index = order[b * batch:(b + 1) * batch]
            x = x_train[index]
            flip = torch.rand(len(index)) < 0.5
            x = torch.where(flip[:, None, None, None], x.flip(3), x)
            loss = F.cross_entropy(net(x), y_train[index])
            optimizer.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
            optimizer.step()
            schedule.step()
        print(f"epoch {epoch + 1} loss {loss.item():.3f} val top1 {top1(net, x_val, y_val):.1f} "
              f"({time.time() - start:.0f} s)", flush=True)
    print(f"peer top1 {top1(net, x_val, y_val):.2f} in {time.time() - start:.0f} s")


if __name__ == "__main__":
    main()
