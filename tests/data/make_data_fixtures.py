#!/usr/bin/python3
"""Format-exact dataset fixtures for the reader tests, and what torchvision reads from them.

    make_data_fixtures.py OUT_DIR

writes, under OUT_DIR, small datasets in their native layouts (docs/formats.md): VOC 2007 (JPEG, XML with size,
difficult and truncated, 8-bit palette PNGs with the devkit's bitget palette and void = 255), Cityscapes (mode
"L" labelIds including void ids), ADE20K, CIFAR-10/100 binary records (and CIFAR-100's python pickle made from
the same records, for torchvision), an ImageFolder, COCO JSON with a crowd box, IDX (plain and gzip), DIODE .npy
files (depth (H, W, 1), mask (H, W), normals (H, W, 3) with zeros), a BTS-style NYU PNG export, each with the
split names the paper benchmarks' configs use (configs/paper/benchmarks: VOC 2012, SBD's augmented set); then
OUT_DIR/reference.pth: a dict of tensors read by torchvision's dataset classes (VOCDetection, VOCSegmentation,
Cityscapes, CIFAR100, ImageFolder) and by PIL/numpy.
"""
import gzip
import json
import os
import pickle
import shutil
import struct
import sys

import numpy as np
import torch
from PIL import Image


def voc_palette():
    palette = []
    for i in range(256):
        r = g = b = 0
        c = i
        for j in range(8):
            r |= ((c >> 0) & 1) << (7 - j)
            g |= ((c >> 1) & 1) << (7 - j)
            b |= ((c >> 2) & 1) << (7 - j)
            c >>= 3
        palette += [r, g, b]
    return palette


def textured(rng, h, w):
    yy, xx = np.mgrid[0:h, 0:w]
    img = np.stack([(xx * 7 + yy * 3) % 256, (xx * 2 + yy * 11) % 256, (xx * yy) % 256], -1)
    return np.clip(img + rng.integers(0, 20, img.shape), 0, 255).astype(np.uint8)


def voc(out, ref, rng):
    root = os.path.join(out, "VOCdevkit", "VOC2007")
    for d in ("JPEGImages", "Annotations", "ImageSets/Main", "ImageSets/Segmentation", "SegmentationClass"):
        os.makedirs(os.path.join(root, d), exist_ok=True)
    ids = ["000001", "000002"]
    sizes = [(30, 40), (24, 36)]
    objects = [[("dog", (1, 2, 20, 25), 0, 0), ("person", (15, 5, 40, 30), 1, 1)],
               [("car", (3, 4, 36, 24), 0, 1)]]
    for n, (i, (h, w)) in enumerate(zip(ids, sizes)):
        Image.fromarray(textured(rng, h, w)).save(os.path.join(root, "JPEGImages", i + ".jpg"), quality=95)
        xml = [f"<annotation><folder>VOC2007</folder><filename>{i}.jpg</filename>",
               f"<size><width>{w}</width><height>{h}</height><depth>3</depth></size><segmented>1</segmented>"]
        for name, (x1, y1, x2, y2), difficult, truncated in objects[n]:
            xml.append(f"<object><name>{name}</name><pose>Left</pose><truncated>{truncated}</truncated>"
                       f"<difficult>{difficult}</difficult><bndbox><xmin>{x1}</xmin><ymin>{y1}</ymin>"
                       f"<xmax>{x2}</xmax><ymax>{y2}</ymax></bndbox></object>")
        xml.append("</annotation>")
        with open(os.path.join(root, "Annotations", i + ".xml"), "w") as f:
            f.write("\n".join(xml))
        mask = np.zeros((h, w), np.uint8)
        mask[2:12, 3:15] = 12
        mask[10:20, 10:30] = 15
        mask[12, :] = 255  # void border
        img = Image.fromarray(mask, mode="P")
        img.putpalette(voc_palette())
        img.save(os.path.join(root, "SegmentationClass", i + ".png"))
    for sub in ("Main", "Segmentation"):
        with open(os.path.join(root, "ImageSets", sub, "train.txt"), "w") as f:
            f.write("\n".join(ids) + "\n")
    # The paper benchmarks' splits: VOC 2007 trainval / test, VOC 2012 trainval and segmentation val, and SBD's
    # augmented set as mmsegmentation lays it out (aug.txt, 8-bit grey SegmentationClassAug PNGs).
    for sub, split in (("Main", "trainval"), ("Main", "test"), ("Segmentation", "val"), ("Segmentation", "aug")):
        shutil.copy(os.path.join(root, "ImageSets", sub, "train.txt"), os.path.join(root, "ImageSets", sub, split + ".txt"))
    os.makedirs(os.path.join(root, "SegmentationClassAug"), exist_ok=True)
    for i in ids:
        mask = np.array(Image.open(os.path.join(root, "SegmentationClass", i + ".png")))
        Image.fromarray(np.where(mask == 255, 0, mask).astype(np.uint8), mode="L").save(
            os.path.join(root, "SegmentationClassAug", i + ".png"))
    shutil.copytree(root, os.path.join(out, "VOCdevkit", "VOC2012"))
    from torchvision.datasets import VOCDetection, VOCSegmentation
    det = VOCDetection(out, year="2007", image_set="train", download=False)
    seg = VOCSegmentation(out, year="2007", image_set="train", download=False)
    for n in range(len(ids)):
        image, target = det[n]
        ref[f"voc.image.{n}"] = torch.from_numpy(np.array(image))
        objs = target["annotation"]["object"]
        ref[f"voc.boxes.{n}"] = torch.tensor([[float(o["bndbox"][k]) for k in ("xmin", "ymin", "xmax", "ymax")]
                                              for o in objs])
        ref[f"voc.difficult.{n}"] = torch.tensor([int(o["difficult"]) for o in objs])
        _, mask = seg[n]
        ref[f"voc.mask.{n}"] = torch.from_numpy(np.array(mask)).long()


def cityscapes(out, ref, rng):
    from torchvision.datasets import Cityscapes
    for split, city in (("train", "bochum"), ("val", "lindau")):
        img_dir = os.path.join(out, "cityscapes", "leftImg8bit", split, city)
        gt_dir = os.path.join(out, "cityscapes", "gtFine", split, city)
        os.makedirs(img_dir, exist_ok=True)
        os.makedirs(gt_dir, exist_ok=True)
        stem = f"{city}_000000_000019"
        Image.fromarray(textured(rng, 16, 32)).save(os.path.join(img_dir, stem + "_leftImg8bit.png"))
        ids = np.array([0, 1, 3, 6, 7, 8, 9, 26, 33, 24, 31, 15], np.uint8)
        labels = ids[(np.arange(16 * 32) % len(ids))].reshape(16, 32)
        Image.fromarray(labels, mode="L").save(os.path.join(gt_dir, stem + "_gtFine_labelIds.png"))
    data = Cityscapes(os.path.join(out, "cityscapes"), split="train", mode="fine", target_type="semantic")
    image, target = data[0]
    ref["cityscapes.image"] = torch.from_numpy(np.array(image))
    ref["cityscapes.label_ids"] = torch.from_numpy(np.array(target)).long()


def ade20k(out, ref, rng):
    root = os.path.join(out, "ADEChallengeData2016")
    os.makedirs(os.path.join(root, "images", "training"), exist_ok=True)
    os.makedirs(os.path.join(root, "annotations", "training"), exist_ok=True)
    Image.fromarray(textured(rng, 20, 24)).save(os.path.join(root, "images", "training", "ADE_train_00000001.jpg"))
    labels = (np.arange(20 * 24) % 152).astype(np.uint8).reshape(20, 24)  # 0..151: 0 and 151 are not classes
    Image.fromarray(labels, mode="L").save(os.path.join(root, "annotations", "training", "ADE_train_00000001.png"))
    ref["ade20k.raw"] = torch.from_numpy(labels).long()
    for sub in ("images", "annotations"):
        shutil.copytree(os.path.join(root, sub, "training"), os.path.join(root, sub, "validation"))


def cifar(out, ref, rng):
    n = 3
    pixels = rng.integers(0, 256, (n, 3072), dtype=np.uint8)
    coarse = rng.integers(0, 20, n).astype(np.uint8)
    fine = np.array([5, 99, 42], np.uint8)
    root = os.path.join(out, "cifar-100-binary")
    os.makedirs(root, exist_ok=True)
    with open(os.path.join(root, "train.bin"), "wb") as f:
        for i in range(n):
            f.write(bytes([coarse[i], fine[i]]) + pixels[i].tobytes())
    with open(os.path.join(root, "test.bin"), "wb") as f:
        f.write(bytes([coarse[0], fine[0]]) + pixels[0].tobytes())
    with open(os.path.join(root, "truncated.bin"), "wb") as f:  # one whole record, then part of a second
        f.write(bytes([coarse[0], fine[0]]) + pixels[0].tobytes() + bytes([1, 2]) + pixels[1][:100].tobytes())
    # The python version of the same records, which torchvision's CIFAR100 reads.
    py = os.path.join(out, "cifar-100-python")
    os.makedirs(py, exist_ok=True)
    with open(os.path.join(py, "train"), "wb") as f:
        pickle.dump({"data": pixels, "fine_labels": fine.tolist(), "coarse_labels": coarse.tolist()}, f)
    with open(os.path.join(py, "test"), "wb") as f:
        pickle.dump({"data": pixels[:1], "fine_labels": fine[:1].tolist(), "coarse_labels": coarse[:1].tolist()}, f)
    with open(os.path.join(py, "meta"), "wb") as f:
        pickle.dump({"fine_label_names": [f"c{i}" for i in range(100)]}, f)
    from torchvision.datasets import CIFAR100
    CIFAR100._check_integrity = lambda self: True
    import torchvision.datasets.cifar as cifar_module
    cifar_module.check_integrity = lambda *args, **kwargs: True  # fixture files have no real md5
    data = CIFAR100(out, train=True, download=False)
    for i in range(n):
        image, label = data[i]
        ref[f"cifar100.image.{i}"] = torch.from_numpy(np.array(image))
        ref[f"cifar100.label.{i}"] = torch.tensor(label)
    root10 = os.path.join(out, "cifar-10-batches-bin")
    os.makedirs(root10, exist_ok=True)
    with open(os.path.join(root10, "test_batch.bin"), "wb") as f:
        for i in range(n):
            f.write(bytes([i + 2]) + pixels[i].tobytes())


def image_folder(out, ref, rng):
    from torchvision.datasets import ImageFolder
    root = os.path.join(out, "folder")
    for cls, names in (("dog", ["b.png", "a.png"]), ("cat", ["z.png"])):
        os.makedirs(os.path.join(root, cls), exist_ok=True)
        for name in names:
            Image.fromarray(textured(rng, 9, 13)).save(os.path.join(root, cls, name))
    data = ImageFolder(root)
    for i in range(len(data)):
        image, label = data[i]
        ref[f"folder.image.{i}"] = torch.from_numpy(np.array(image))
        ref[f"folder.label.{i}"] = torch.tensor(label)


def coco(out, ref, rng):
    root = os.path.join(out, "coco")
    os.makedirs(os.path.join(root, "images"), exist_ok=True)
    for i in (1, 2):
        Image.fromarray(textured(rng, 20, 30)).save(os.path.join(root, "images", f"{i:012d}.jpg"))
    doc = {"images": [{"id": 1, "file_name": "images/000000000001.jpg", "height": 20, "width": 30},
                      {"id": 2, "file_name": "images/000000000002.jpg", "height": 20, "width": 30}],
           "annotations": [{"id": 10, "image_id": 1, "category_id": 18, "bbox": [2.5, 3, 10, 8], "area": 80, "iscrowd": 0},
                           {"id": 11, "image_id": 1, "category_id": 1, "bbox": [0, 0, 30, 20], "area": 600, "iscrowd": 1},
                           {"id": 12, "image_id": 2, "category_id": 90, "bbox": [5, 5, 4, 4], "area": 16, "iscrowd": 0}],
           "categories": [{"id": 1, "name": "person"}, {"id": 18, "name": "dog"}, {"id": 90, "name": "toothbrush"}]}
    with open(os.path.join(root, "instances.json"), "w") as f:
        json.dump(doc, f)
    doc["annotations"][0]["bbox"] = [2, 3, -1, 8]
    with open(os.path.join(root, "negative_width.json"), "w") as f:
        json.dump(doc, f)


def idx(out, ref, rng):
    root = os.path.join(out, "idx")
    os.makedirs(root, exist_ok=True)
    images = rng.integers(0, 256, (4, 5, 6), dtype=np.uint8)
    labels = np.array([3, 0, 9, 1], np.uint8)
    for split, opener in (("train", gzip.open), ("t10k", open)):
        suffix = ".gz" if opener is gzip.open else ""
        with opener(os.path.join(root, f"{split}-images-idx3-ubyte{suffix}"), "wb") as f:
            f.write(struct.pack(">IIII", 0x803, 4, 5, 6) + images.tobytes())
        with opener(os.path.join(root, f"{split}-labels-idx1-ubyte{suffix}"), "wb") as f:
            f.write(struct.pack(">II", 0x801, 4) + labels.tobytes())
    ref["idx.images"] = torch.from_numpy(images)
    ref["idx.labels"] = torch.from_numpy(labels).long()


def diode(out, ref, rng):
    scan = os.path.join(out, "diode", "val", "indoors", "scene_00019", "scan_00183")
    os.makedirs(scan, exist_ok=True)
    stem = os.path.join(scan, "00019_00183_indoors_000_010")
    h, w = 6, 8
    Image.fromarray(textured(rng, h, w)).save(stem + ".png")
    depth = rng.uniform(0.5, 9, (h, w, 1)).astype(np.float32)
    mask = np.ones((h, w), np.float32)
    mask[0, :3] = 0
    normals = rng.normal(size=(h, w, 3)).astype(np.float32)
    normals /= np.linalg.norm(normals, axis=2, keepdims=True)
    normals[5, 5] = 0
    np.save(stem + "_depth.npy", depth)
    np.save(stem + "_depth_mask.npy", mask)
    np.save(stem + "_normal.npy", normals)
    ref["diode.depth"] = torch.from_numpy(depth[:, :, 0] * mask)
    ref["diode.normals"] = torch.from_numpy(normals).permute(2, 0, 1).contiguous()
    shutil.copytree(os.path.join(out, "diode", "val"), os.path.join(out, "diode", "train"))


def nyu_png(out, ref, rng):
    root = os.path.join(out, "nyu")
    os.makedirs(root, exist_ok=True)
    Image.fromarray(textured(rng, 12, 16)).save(os.path.join(root, "rgb_00000.jpg"))
    depth = rng.integers(0, 10000, (12, 16)).astype(np.uint16)
    depth[0, 0] = 0
    Image.fromarray(depth).save(os.path.join(root, "sync_depth_00000.png"))
    with open(os.path.join(root, "test.txt"), "w") as f:
        f.write("rgb_00000.jpg sync_depth_00000.png\n")
    shutil.copy(os.path.join(root, "test.txt"), os.path.join(root, "train.txt"))
    ref["nyu.depth_mm"] = torch.from_numpy(depth.astype(np.int32))


def main():
    out = sys.argv[1]
    rng = np.random.default_rng(0)
    ref = {}
    for make in (voc, cityscapes, ade20k, cifar, image_folder, coco, idx, diode, nyu_png):
        make(out, ref, rng)
    torch.save(ref, os.path.join(out, "reference.pth"))


if __name__ == "__main__":
    main()
