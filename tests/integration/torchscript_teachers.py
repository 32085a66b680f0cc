#!/usr/bin/python3
"""TorchScript teachers of any architecture through must_pseudolabel, against PyTorch running the same modules.

    torchscript_teachers.py BIN_DIR SCRATCH_DIR

Five teachers with random weights, exported as a user would and each with its own input rule, label six 320 x 416
images whose batch data.augment normalises otherwise (mean 0.5, std 0.25), so each input is renormalised:
- classification: torchvision's resnet18 (random batch-norm statistics), torch.jit.script, ImageNet statistics;
- detection: torchvision's fasterrcnn_resnet50_fpn, torch.jit.script (its (losses, detections) output), on 0..1
  pixels (mean 0, std 1: the detector normalises itself), its nms and roi_align from torchvision's _C.so
  (inference.libraries);
- segmentation: a small network returning {"out": logits} at a quarter of the resolution (as torchvision's
  segmentation models), torch.jit.script;
- depth: a network of positive relative depth, torch.jit.trace, fed at its own size 160 x 208 (`size`) and declared
  `depth: relative`;
- normals: a network of 3-vectors, torch.jit.script.
PyTorch's references: the same modules on the same pixels, dense outputs resized (bilinear, align_corners=False)
onto the image, through the label policy (softmax, segmentation confidence 0.5, unit normals). The store must
agree: probabilities within 1e-4 (plus half a float16 step), every detection within 0.01 px, class maps on all but
0.01% of pixels, depth and normals within float16 rounding; the manifest records each file's sha256, its kind and
the declared depth kind. must_eval predict --torchscript with the segmentation teacher gives PyTorch's argmax.
Without inference.libraries the detector is refused, the error saying where torchvision's
operators are.

Exits 1 with every difference listed.
"""
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

import numpy as np
import torch
import torchvision
import torchvision.extension
from PIL import Image

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
import torchvision_checkpoints as checkpoints  # noqa: E402  (images, detection matching, running a tool)
from make_fixtures import randomise_batch_norm  # noqa: E402

F = torch.nn.functional
problems = checkpoints.problems  # compare_detections appends there
HEIGHT, WIDTH = checkpoints.HEIGHT, checkpoints.WIDTH
DEPTH_SIZE = (160, 208)
SEGMENTATION_CLASSES = 5
HALF = ([0.5] * 3, [0.5] * 3)


class Segmenter(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.body = torch.nn.Sequential(torch.nn.Conv2d(3, 16, 3, stride=2, padding=1), torch.nn.ReLU(),
                                        torch.nn.Conv2d(16, SEGMENTATION_CLASSES, 3, stride=2, padding=1))

    def forward(self, x):
        return {"out": self.body(x) * 4.0}


class RelativeDepth(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 1, 5, padding=2)

    def forward(self, x):
        return F.softplus(self.conv(x)) * 10.0


class Normals(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv = torch.nn.Conv2d(3, 3, 3, padding=1)

    def forward(self, x):
        return torch.tanh(self.conv(x)) + torch.tensor([0.0, 0.0, 0.5]).view(1, 3, 1, 1)


def export(work):
    """The five modules, saved as TorchScript files; returns {task: (module, file)}."""
    torch.manual_seed(0)
    classifier = torchvision.models.resnet18(num_classes=checkpoints.CLASSES)
    randomise_batch_norm(classifier)
    from torchvision.models.detection import fasterrcnn_resnet50_fpn
    detector = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=checkpoints.DETECTOR_CLASSES + 1,
                                       box_score_thresh=0.0, min_size=HEIGHT, max_size=1333)
    randomise_batch_norm(detector)
    with torch.no_grad():  # outputs of a trained detector's size (torchvision_checkpoints.py says why)
        for layer in (detector.rpn.head.cls_logits, detector.rpn.head.bbox_pred,
                      detector.roi_heads.box_predictor.cls_score, detector.roi_heads.box_predictor.bbox_pred):
            layer.weight.mul_(0.01)
    modules = {
        "classification": torch.jit.script(classifier.eval()),
        "detection": torch.jit.script(detector.eval()),
        "segmentation": torch.jit.script(Segmenter().eval()),
        "depth": torch.jit.trace(RelativeDepth().eval(), torch.rand(1, 3, *DEPTH_SIZE)),
        "normals": torch.jit.script(Normals().eval()),
    }
    out = {}
    for task, module in modules.items():
        path = os.path.join(work, f"{task}.pt")
        module.save(path)
        out[task] = (module, path)
    return out


def normalised(x, mean, std):
    return (x - torch.tensor(mean).view(3, 1, 1)) / torch.tensor(std).view(3, 1, 1)


def on_image(map_):  # [C, h, w] -> [C, H, W]
    return F.interpolate(map_[None], size=(HEIGHT, WIDTH), mode="bilinear", align_corners=False)[0]


def reference(modules, x):
    """PyTorch's labels of one image (0..1 pixels [3, H, W]), as the store keeps them."""
    with torch.no_grad():
        logits = modules["classification"][0](normalised(x, checkpoints.MEAN, checkpoints.STD)[None])[0]
        detections = modules["detection"][0]([x])[1][0]
        scores = torch.softmax(on_image(modules["segmentation"][0](normalised(x, *HALF)[None])["out"][0]), 0)
        confidence, classes = scores.max(0)
        segmentation = torch.where(confidence >= 0.5, classes, torch.full_like(classes, 255))
        small = F.interpolate(normalised(x, *HALF)[None], size=DEPTH_SIZE, mode="bilinear", align_corners=False)
        depth = on_image(modules["depth"][0](small)[0])[0]
        normals = F.normalize(modules["normals"][0](normalised(x, checkpoints.MEAN, checkpoints.STD)[None])[0], dim=0)
    return {"classification": torch.softmax(logits, 0), "detection": detections, "segmentation": segmentation,
            "depth": depth, "normals": normals.permute(1, 2, 0)}


def config(work, root, modules):
    files = {task: path for task, (_, path) in modules.items()}
    return checkpoints.write(os.path.join(work, "torchscript.yaml"), f"""teachers:
  classification: {{torchscript: {files['classification']}}}
  detection: {{torchscript: {files['detection']}, mean: [0, 0, 0], std: [1, 1, 1]}}
  segmentation: {{torchscript: {files['segmentation']}, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5]}}
  depth: {{torchscript: {files['depth']}, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5], size: [{DEPTH_SIZE[0]}, {DEPTH_SIZE[1]}],
          depth: relative}}
  normals: {{torchscript: {files['normals']}}}
input: {{format: image_folder, root: {root}}}
data:
  augment: {{mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}}
  loader: {{batch_size: 2, workers: 1}}
policy:
  classification: {{temperature: 1.0, top_k: 0}}
  detection: {{score_threshold: 0.0}}
store: {{shard_size: 4}}
inference: {{libraries: [{torchvision.extension._get_extension_path("_C")}]}}
""")


def check_manifest(manifest, modules):
    for teacher in manifest["teachers"]:
        path = modules[teacher["task"]][1]
        with open(path, "rb") as f:
            digest = hashlib.sha256(f.read()).hexdigest()
        expected_depth = "relative" if teacher["task"] == "depth" else "metric"
        if (teacher["kind"], teacher["weights"], teacher["weights_sha256"], teacher["depth"]) != \
                ("torchscript", path, digest, expected_depth):
            problems.append(f"manifest: teacher {teacher['task']} recorded as {teacher['kind']} {teacher['weights']} "
                            f"{teacher['weights_sha256']} depth {teacher['depth']}")


def check_record(name, members, key, expected):
    stored = torch.from_numpy(np.load(io.BytesIO(members[key + ".cls.npy"])).astype(np.float32))
    allowed = checkpoints.PROBABILITY_TOLERANCE + expected["classification"].abs() * 2.0**-11
    if not bool(((stored - expected["classification"]).abs() <= allowed).all()):
        problems.append(f"{name}: probabilities {(stored - expected['classification']).abs().max():.2e} from PyTorch's")
    det = json.loads(members[key + ".det.json"])
    checkpoints.compare_detections(f"{name} detection", det["boxes"], det["scores"],
                                   [label + 1 for label in det["labels"]], expected["detection"])
    classes = torch.from_numpy(np.array(Image.open(io.BytesIO(members[key + ".seg.png"])))).long()
    differing = int((classes != expected["segmentation"]).sum())
    if differing > HEIGHT * WIDTH // 10000:
        problems.append(f"{name}: {differing} of {HEIGHT * WIDTH} segmentation pixels differ from PyTorch's")
    for task, suffix in (("depth", ".depth.npy"), ("normals", ".normal.npy")):
        stored = torch.from_numpy(np.load(io.BytesIO(members[key + suffix])).astype(np.float32))
        stored = stored.reshape(expected[task].shape)
        error = (stored - expected[task]).abs() - expected[task].abs() * 2.0**-11
        if float(error.max()) > 1e-5:
            problems.append(f"{name}: {task} up to {float((stored - expected[task]).abs().max()):.2e} from PyTorch's")


DETECTIONS = [0]  # torchvision's detections compared


def check_store(store, root, modules):
    with open(os.path.join(store, "manifest.json")) as f:
        manifest = json.load(f)
    check_manifest(manifest, modules)
    seen = 0
    for shard in manifest["shards"]:
        with tarfile.open(os.path.join(store, "shards", shard["name"] + ".tar")) as tar:
            members = {member.name: tar.extractfile(member).read() for member in tar}
        for name in [n for n in members if n.endswith(".json") and n.count(".") == 1]:
            record = json.loads(members[name])
            expected = reference(modules, checkpoints.as_tensor(record["source"]))
            DETECTIONS[0] += len(expected["detection"]["boxes"])
            check_record(os.path.relpath(record["source"], root), members, name.split(".")[0], expected)
            seen += 1
    return seen


if __name__ == "__main__":
    BIN, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    root = os.path.join(work, "images")
    files = checkpoints.write_images(root)
    modules = export(work)
    store = os.path.join(work, "labels")
    checkpoints.run([os.path.join(BIN, "must_pseudolabel"), "--threads", "2", "--config", config(work, root, modules),
                     "--output-dir", store])
    seen = check_store(store, root, modules)
    # must_eval predict with the segmentation teacher: its class maps are the argmax of PyTorch's logits.
    predict_config = checkpoints.write(os.path.join(work, "predict.yaml"), """data:
  augment: {mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25]}
  loader: {batch_size: 2, workers: 1}
""")
    flat = os.path.join(work, "flat")  # a folder of images, not of class folders
    os.makedirs(flat, exist_ok=True)
    for name in files:
        shutil.copy(os.path.join(root, name), flat)
    checkpoints.run([os.path.join(BIN, "must_eval"), "predict", "--threads", "2", "--config", predict_config, "--images",
                     flat, "--torchscript", modules["segmentation"][1], "--task", "segmentation", "--mean", "0.5", "0.5",
                     "0.5", "--std", "0.5", "0.5", "0.5", "--visualize", "--output-dir", os.path.join(work, "predict")])
    for index, name in enumerate(sorted(os.path.basename(f) for f in files)):
        x = normalised(checkpoints.as_tensor(os.path.join(flat, name)), *HALF)
        with torch.no_grad():
            expected = on_image(modules["segmentation"][0](x[None])["out"][0]).argmax(0)
        predicted = torch.from_numpy(np.array(Image.open(os.path.join(work, "predict/predictions/segmentation",
                                                                      f"{index:06d}.png")))).long()
        differing = int((predicted != expected).sum())
        if differing > HEIGHT * WIDTH // 10000:
            problems.append(f"must_eval predict {name}: {differing} segmentation pixels differ from PyTorch's")
        if not os.path.exists(os.path.join(work, "predict/pictures", f"{index:06d}.png")):
            problems.append(f"must_eval predict {name}: no picture")
    # Without torchvision's operators the detector does not load, and the error says where they are.
    lonely = checkpoints.write(os.path.join(work, "no_libraries.yaml"), f"""teachers:
  detection: {{torchscript: {modules['detection'][1]}, mean: [0, 0, 0], std: [1, 1, 1]}}
input: {{format: image_folder, root: {root}}}
""")
    result = subprocess.run([os.path.join(BIN, "must_pseudolabel"), "--config", lonely, "--output-dir",
                             os.path.join(work, "no_libraries")], stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True)
    if result.returncode == 0 or "torchvision::nms" not in result.stdout or "inference.libraries" not in result.stdout:
        problems.append(f"a detector without torchvision's operators: exit {result.returncode}, {result.stdout[-2000:]}")
    if seen != len(files):
        problems.append(f"{seen} records in the store, expected {len(files)}")
    if problems:
        sys.exit("\n".join(problems))
    print(f"ok: {seen} images labelled by 5 TorchScript teachers as PyTorch labels them ({DETECTIONS[0]} detections); "
          f"must_eval predict --torchscript likewise")
