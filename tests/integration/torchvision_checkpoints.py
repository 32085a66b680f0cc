#!/usr/bin/python3
"""torchvision checkpoints as they are, through must_eval and must_pseudolabel, against torchvision itself.

    torchvision_checkpoints.py BIN_DIR SCRATCH_DIR

A resnet18 classifier (6 classes) and a fasterrcnn_resnet50_fpn (10 classes and background) with random weights and
random batch-norm statistics are saved with torch.save(model.state_dict()), as a user has them. Six 320 x 416
images (so that torchvision's detection transform, min_size=320, neither resizes nor pads them, and our loader pads
nothing) go through:
- torchvision: the classifier's softmax and top 5; the detector's boxes, scores and labels (box_score_thresh=0);
- must_eval --save-predictions: classification.jsonl (top 5) and detection.json (COCO results);
- must_pseudolabel: the store's K.cls.npy (every class, float16 as the store keeps them) and K.det.json.
Boxes must agree within 0.01 px and probabilities within 1e-4 (plus half a float16 step for the store).

Then torchvision's evaluation transform: 200 odd-sized images through must_eval with `resize: {mode: torchvision}`
and `center_crop`, against torchvision's Resize(128) + CenterCrop(112) on uint8 tensors (antialias=True) and on PIL
images: the same top 1 as each on at least 198, and top-5 probabilities within 1e-3 of the tensor pipeline's (PIL's
resize differs from it by a grey level here and there, which this random classifier turns into up to ~2e-3; the
largest difference is printed).

Exits 1 with every difference listed.
"""
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import torch
import torchvision
from PIL import Image

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "parity"))
from make_fixtures import randomise_batch_norm  # noqa: E402  (random affine parameters and statistics)

BOX_TOLERANCE = 0.01
PROBABILITY_TOLERANCE = 1e-4
MEAN, STD = [0.485, 0.456, 0.406], [0.229, 0.224, 0.225]
CLASSES, DETECTOR_CLASSES, IMAGES, HEIGHT, WIDTH = 6, 10, 6, 320, 416
problems = []


def write_images(root):
    """Smooth random pictures (a coarse random grid upsampled), one per class folder c0..c5 (image_folder's layout)."""
    generator = torch.Generator().manual_seed(1)
    files = []
    for i in range(IMAGES):
        coarse = torch.rand(1, 3, 8, 10, generator=generator)
        picture = torch.nn.functional.interpolate(coarse, size=(HEIGHT, WIDTH), mode="bicubic", align_corners=False)
        pixels = (picture[0].clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).numpy()
        name = f"c{i}/image{i}.png"
        os.makedirs(os.path.join(root, f"c{i}"), exist_ok=True)
        Image.fromarray(pixels).save(os.path.join(root, name))
        files.append(name)
    return files


def as_tensor(path):
    pixels = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
    return torch.from_numpy(pixels).permute(2, 0, 1).contiguous()


def references(work, root, files):
    torch.manual_seed(0)
    classifier = torchvision.models.resnet18(num_classes=CLASSES)
    randomise_batch_norm(classifier)
    classifier.eval()
    torch.save(classifier.state_dict(), os.path.join(work, "resnet18.pth"))
    from torchvision.models.detection import fasterrcnn_resnet50_fpn
    detector = fasterrcnn_resnet50_fpn(weights=None, weights_backbone=None, num_classes=DETECTOR_CLASSES + 1,
                                       box_score_thresh=0.0, min_size=HEIGHT, max_size=1333)
    randomise_batch_norm(detector)
    with torch.no_grad():
        # Outputs of a trained detector's size. Random weights over random batch-norm statistics give objectness
        # logits in the tens, whose sigmoids are exactly 1.0 in float32: torchvision then orders the tied proposals
        # by an unstable sort, which no other program reproduces. And random box deltas of several units, through
        # exp(dw), turn float rounding into pixels.
        for layer in (detector.rpn.head.cls_logits, detector.rpn.head.bbox_pred,
                      detector.roi_heads.box_predictor.cls_score, detector.roi_heads.box_predictor.bbox_pred):
            layer.weight.mul_(0.01)
    detector.eval()
    torch.save(detector.state_dict(), os.path.join(work, "fasterrcnn_resnet50_fpn.pth"))
    images = [as_tensor(os.path.join(root, f)) for f in files]
    normalised = torchvision.transforms.Normalize(MEAN, STD)
    with torch.no_grad():
        probabilities = torch.softmax(classifier(torch.stack([normalised(x) for x in images])), dim=1)
        detections = detector(images)  # the detector normalises itself
    return {f: (probabilities[i], detections[i]) for i, f in enumerate(files)}


def run(arguments):
    result = subprocess.run(arguments, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if result.returncode != 0:
        sys.exit(" ".join(arguments) + f" exited {result.returncode}:\n" + result.stdout[-6000:])


def write(path, text):
    with open(path, "w") as f:
        f.write(text)
    return path


MODELS = {
    "classification": "backbone: {depth: 18}\n  heads: {classification: {num_outputs: %d}}" % CLASSES,
    "detection": ("backbone: {depth: 50}\n  heads: {detection: {num_outputs: %d}}\n"
                  "  detection: {box_head: 2fc, roi_heads: {score_threshold: 0.0}}") % DETECTOR_CLASSES,
}


def eval_config(work, root, task):
    dataset = {"classification": f"{{format: image_folder, root: {root}}}",
               "detection": f"{{format: coco, root: {root}, annotations: {work}/instances.json}}"}[task]
    return write(os.path.join(work, f"{task}.yaml"), f"""model:
  {MODELS[task]}
data:
  eval: {dataset}
  loader: {{batch_size: 2, workers: 1}}
evaluation: {{name: torchvision, tasks: [{task}]}}
""")


def coco_annotations(work, files):
    """A COCO file over the images (one box each), categories 1..10: torchvision's label l is category l."""
    images = [{"id": 100 + i, "file_name": f, "height": HEIGHT, "width": WIDTH} for i, f in enumerate(files)]
    annotations = [{"id": i + 1, "image_id": 100 + i, "category_id": 1 + i % DETECTOR_CLASSES,
                    "bbox": [10, 20, 100, 80], "area": 8000, "iscrowd": 0} for i in range(len(files))]
    categories = [{"id": c, "name": f"class{c}"} for c in range(1, DETECTOR_CLASSES + 1)]
    write(os.path.join(work, "instances.json"),
          json.dumps({"images": images, "annotations": annotations, "categories": categories}))
    return {100 + i: f for i, f in enumerate(files)}


def compare_detections(what, boxes, scores, labels, reference):
    """Every torchvision detection matched by one of ours with its label, its score within 1e-4 and its box within
    0.01 px (near-equal scores may come in another order)."""
    expected = reference
    if len(boxes) != len(expected["boxes"]):
        problems.append(f"{what}: {len(boxes)} detections, torchvision {len(expected['boxes'])}")
        return
    taken = [False] * len(boxes)
    for box, score, label in zip(expected["boxes"].tolist(), expected["scores"].tolist(), expected["labels"].tolist()):
        for j in range(len(boxes)):
            if taken[j] or labels[j] != label or abs(scores[j] - score) > PROBABILITY_TOLERANCE:
                continue
            if max(abs(a - b) for a, b in zip(boxes[j], box)) > BOX_TOLERANCE:
                continue
            taken[j] = True
            break
        else:
            problems.append(f"{what}: torchvision's box {box} (label {label}, score {score:.6f}) has no match")


def check_eval(work, root, files, reference):
    run([os.path.join(BIN, "must_eval"), "--threads", "2", "--config", eval_config(work, root, "classification"),
         "--weights", os.path.join(work, "resnet18.pth"), "--output-dir", os.path.join(work, "eval_cls"),
         "--save-predictions"])
    with open(os.path.join(work, "eval_cls/predictions/classification.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    if len(lines) != len(files):
        problems.append(f"must_eval classification: {len(lines)} images, expected {len(files)}")
    for line in lines:
        probabilities = reference[os.path.relpath(line["image"], root)][0]
        top = torch.topk(probabilities, 5)
        if line["classes"] != top.indices.tolist():
            problems.append(f"must_eval {line['image']}: top 5 {line['classes']}, torchvision {top.indices.tolist()}")
        difference = max(abs(a - b) for a, b in zip(line["scores"], top.values.tolist()))
        if difference > PROBABILITY_TOLERANCE:
            problems.append(f"must_eval {line['image']}: top-5 probabilities {difference:.2e} from torchvision's")
    image_files = coco_annotations(work, files)
    run([os.path.join(BIN, "must_eval"), "--threads", "2", "--config", eval_config(work, root, "detection"),
         "--weights", os.path.join(work, "fasterrcnn_resnet50_fpn.pth"), "--output-dir", os.path.join(work, "eval_det"),
         "--save-predictions"])
    with open(os.path.join(work, "eval_det/predictions/detection.json")) as f:
        results = json.load(f)
    for image_id, name in image_files.items():
        mine = [r for r in results if r["image_id"] == image_id]
        boxes = [[x, y, x + w, y + h] for x, y, w, h in (r["bbox"] for r in mine)]
        compare_detections(f"must_eval {name}", boxes, [r["score"] for r in mine], [r["category_id"] for r in mine],
                           reference[name][1])


def check_eval_transform(work):
    """200 odd-sized images in the six class folders, sides 113..300: torchvision's pipelines against must_eval."""
    import torchvision.transforms.functional as F
    root = os.path.join(work, "odd")
    generator = torch.Generator().manual_seed(2)
    sizes = torch.randint(113, 301, (200, 2), generator=generator).tolist()
    through_pil = torchvision.transforms.Compose([
        torchvision.transforms.Resize(128), torchvision.transforms.CenterCrop(112), torchvision.transforms.ToTensor(),
        torchvision.transforms.Normalize(MEAN, STD)])

    def on_tensor(image):  # uint8 [3, H, W]
        cropped = F.center_crop(F.resize(image, [128], antialias=True), [112, 112])
        return F.normalize(cropped.float() / 255, MEAN, STD)

    classifier = torchvision.models.resnet18(num_classes=CLASSES)
    classifier.load_state_dict(torch.load(os.path.join(work, "resnet18.pth")))
    classifier.eval()
    expected = {}
    for i, (h, w) in enumerate(sizes):
        coarse = torch.rand(1, 3, 6, 6, generator=generator)
        smooth = torch.nn.functional.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)[0]
        noise = torch.rand(3, h, w, generator=generator)
        image = (smooth.clamp(0, 1) * 200 + noise * 55).to(torch.uint8)
        name = f"c{i % CLASSES}/odd{i}.png"
        os.makedirs(os.path.join(root, f"c{i % CLASSES}"), exist_ok=True)
        Image.fromarray(image.permute(1, 2, 0).numpy()).save(os.path.join(root, name))
        with torch.no_grad():
            inputs = torch.stack([on_tensor(image), through_pil(Image.fromarray(image.permute(1, 2, 0).numpy()))])
            expected[name] = torch.softmax(classifier(inputs), dim=1)
    # size_divisible 1: torchvision pads nothing, and zeros padded below a 112 crop would enter the pooled features
    config = write(os.path.join(work, "odd.yaml"), f"""model:
  {MODELS["classification"]}
data:
  eval: {{format: image_folder, root: {root}}}
  augment: {{resize: {{mode: torchvision, sizes: [128], max_size: 0}}, center_crop: [112, 112]}}
  loader: {{batch_size: 16, workers: 1, size_divisible: 1}}
evaluation: {{name: odd, tasks: [classification]}}
""")
    run([os.path.join(BIN, "must_eval"), "--threads", "2", "--config", config, "--weights",
         os.path.join(work, "resnet18.pth"), "--output-dir", os.path.join(work, "eval_odd"), "--save-predictions"])
    with open(os.path.join(work, "eval_odd/predictions/classification.jsonl")) as f:
        lines = [json.loads(line) for line in f]
    same_top1, worst = [0, 0], [0.0, 0.0]  # against the tensor pipeline, against PIL's
    for line in lines:
        probabilities = expected[os.path.relpath(line["image"], root)]
        for k in range(2):
            same_top1[k] += line["classes"][0] == int(probabilities[k].argmax())
            theirs = [probabilities[k][c].item() for c in line["classes"]]
            worst[k] = max(worst[k], max(abs(a - b) for a, b in zip(line["scores"], theirs)))
    if len(lines) != 200 or min(same_top1) < 198 or worst[0] > 1e-3:
        problems.append(f"torchvision's evaluation transform: {len(lines)} images, the same top 1 as its tensor and PIL "
                        f"pipelines on {same_top1[0]} and {same_top1[1]} (at least 198 expected), top-5 probabilities "
                        f"up to {worst[0]:.2e} from the tensor pipeline's (1e-3 allowed), {worst[1]:.2e} from PIL's")
    return same_top1, worst


def check_pseudolabel(work, root, files, reference):
    teachers = write(os.path.join(work, "pseudolabel.yaml"), f"""teachers:
  classification: {{config: {work}/classification.yaml, weights: {work}/resnet18.pth}}
  detection: {{config: {work}/detection.yaml, weights: {work}/fasterrcnn_resnet50_fpn.pth}}
input: {{format: image_folder, root: {root}}}
data:
  loader: {{batch_size: 2, workers: 1}}
policy:
  classification: {{temperature: 1.0, top_k: 0}}
  detection: {{score_threshold: 0.0}}
store: {{shard_size: 4}}
""")
    store = os.path.join(work, "labels")
    run([os.path.join(BIN, "must_pseudolabel"), "--threads", "2", "--config", teachers, "--output-dir", store])
    with open(os.path.join(store, "manifest.json")) as f:
        manifest = json.load(f)
    seen = 0
    for shard in manifest["shards"]:
        members = {}
        with tarfile.open(os.path.join(store, "shards", shard["name"] + ".tar")) as tar:
            for member in tar:
                members[member.name] = tar.extractfile(member).read()
        for name in [n for n in members if n.endswith(".json") and n.count(".") == 1]:
            key = name.split(".")[0]
            record = json.loads(members[name])
            probabilities, detections = reference[os.path.relpath(record["source"], root)]
            stored = torch.from_numpy(np.load(io.BytesIO(members[key + ".cls.npy"])).astype(np.float32))
            # float16 in the store: half a step at the value, beyond the tolerance
            allowed = PROBABILITY_TOLERANCE + (probabilities.abs() * 2.0**-11)
            if not bool(((stored - probabilities).abs() <= allowed).all()):
                problems.append(f"must_pseudolabel {record['source']}: probabilities "
                                f"{(stored - probabilities).abs().max().item():.2e} from torchvision's")
            det = json.loads(members[key + ".det.json"])
            compare_detections(f"must_pseudolabel {record['source']}", det["boxes"], det["scores"],
                               [label + 1 for label in det["labels"]], detections)
            seen += 1
    if seen != len(files):
        problems.append(f"must_pseudolabel: {seen} records in the store, expected {len(files)}")


if __name__ == "__main__":
    BIN, work = sys.argv[1], sys.argv[2]
    os.makedirs(work, exist_ok=True)
    torch.set_num_threads(2)
    root = os.path.join(work, "images")
    files = write_images(root)
    reference = references(work, root, files)
    check_eval(work, root, files, reference)
    check_pseudolabel(work, root, files, reference)
    same_top1, worst = check_eval_transform(work)
    detections = sum(len(d["boxes"]) for _, d in reference.values())
    if problems:
        sys.exit("\n".join(problems))
    print(f"ok: {len(files)} images, top 5 and {detections} torchvision detections matched by must_eval and "
          f"must_pseudolabel (boxes within {BOX_TOLERANCE} px, probabilities within {PROBABILITY_TOLERANCE}); "
          f"torchvision's evaluation transform on 200 odd-sized images: the same top 1 as its tensor and PIL "
          f"pipelines on {same_top1[0]} and {same_top1[1]}, top-5 probabilities within {worst[0]:.1e} and "
          f"{worst[1]:.1e}")
