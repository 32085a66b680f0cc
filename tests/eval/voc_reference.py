#!/usr/bin/python3
"""Independent reference for PASCAL VOC per-class AP, used by the C++ metric tests.

    voc_reference.py GT_JSON RESULTS_JSON [--use-07-metric] [--iou 0.5] [--strict]
        -> stdout: {"ap": {"<category_id>": float | null, ...}, "map": float | null}

What this transcribes (by reading): voc_eval() and voc_ap() of rbgirshick/py-faster-rcnn
lib/datasets/voc_eval.py (the same code is voc_eval/voc_ap in facebookresearch/detectron2
detectron2/evaluation/pascal_voc_evaluation.py, whose precision guard
tp / np.maximum(tp + fp, np.finfo(np.float64).eps) is used here).

Input conventions (ours, not the devkit's file formats):
  * GT_JSON is COCO-style: {"images": [{"id"}], "categories": [{"id"}],
    "annotations": [{"image_id", "category_id", "bbox": [x, y, w, h], "difficult": 0|1}]}
    ("difficult" defaults to 0). Boxes are continuous pixel-edge coordinates, so the IoU has NO "+1":
        x2 = x + w, y2 = y + h,
        inters = max(min(x2) - max(x1), 0) * max(min(y2) - max(y1), 0),
        union  = (w_det * h_det + w_gt * h_gt) - inters        (areas are w*h).
    This equals the devkit's "+1" formula on 1-based inclusive integer boxes (xmin, ymin, xmax, ymax)
    given as x = xmin - 1, w = xmax - xmin + 1 (or any shift of that).
    GT annotations on images or categories not listed are not used.
  * RESULTS_JSON is a COCO results list [{"image_id", "category_id", "bbox": [x, y, w, h], "score"}].
    A result on an image not in "images" is an error (voc_eval's class_recs lookup fails); results on
    categories not in "categories" are not used.

Per class (category id):
  * npos = number of non-difficult GT boxes. A class with npos == 0 gets null and is left out of the
    mean (voc_eval would divide by zero).
  * Its detections over all images are sorted by descending score with a STABLE sort: ties keep the
    order of RESULTS_JSON (np.argsort(-score, kind='stable'); voc_eval's default quicksort leaves tie
    order unspecified, the Matlab devkit's sort is stable).
  * Each detection takes the GT box of its image (same class, difficult or not, taken or not) with the
    highest IoU; on equal IoU the first GT in GT_JSON order (np.argmax). If
    ovmax >= iou threshold (default, the official Matlab devkit) or ovmax > threshold (--strict,
    py-faster-rcnn/detectron2): a difficult GT -> neither TP nor FP; a GT already taken -> FP;
    otherwise TP and the GT is taken. Otherwise (including no GT of the class in the image) -> FP.
  * rec = cumsum(tp) / npos, prec = cumsum(tp) / np.maximum(cumsum(tp) + cumsum(fp), eps(float64)).
  * --use-07-metric: 11-point AP over t in np.arange(0., 1.1, 0.1) (note 0.30000000000000004,
    0.6000000000000001, 0.7000000000000001), p = max(prec[rec >= t]) or 0, ap = ap + p / 11. in order.
    Otherwise: mrec = [0, rec, 1], mpre = [0, prec, 0], envelope right to left, and
    np.sum((mrec[i+1] - mrec[i]) * mpre[i+1]) over the i where mrec changes.
  * map = np.mean over the non-null APs (null when all are null).
"""
import argparse
import json
import sys

import numpy as np


def voc_ap(rec, prec, use_07_metric=False):
    if use_07_metric:
        # 11 point metric
        ap = 0.
        for t in np.arange(0., 1.1, 0.1):
            if np.sum(rec >= t) == 0:
                p = 0
            else:
                p = np.max(prec[rec >= t])
            ap = ap + p / 11.
    else:
        # sentinel values at both ends
        mrec = np.concatenate(([0.], rec, [1.]))
        mpre = np.concatenate(([0.], prec, [0.]))
        # precision envelope
        for i in range(mpre.size - 1, 0, -1):
            mpre[i - 1] = np.maximum(mpre[i - 1], mpre[i])
        # points where recall changes; sum (delta recall) * prec
        i = np.where(mrec[1:] != mrec[:-1])[0]
        ap = np.sum((mrec[i + 1] - mrec[i]) * mpre[i + 1])
    return ap


def voc_eval_class(image_ids, gt_by_image, dets, ovthresh, use_07_metric, strict):
    """gt_by_image: image_id -> list of (bbox xywh, difficult) of this class, in GT order.
    dets: list of (image_id, score, bbox xywh) of this class, in results order."""
    class_recs = {}
    npos = 0
    for imagename in image_ids:
        R = gt_by_image.get(imagename, [])
        bbox = np.array([[float(v) for v in x[0]] for x in R]).reshape(-1, 4)
        difficult = np.array([x[1] for x in R]).astype(bool)
        det = [False] * len(R)
        npos = npos + sum(~difficult)
        class_recs[imagename] = {'bbox': bbox, 'difficult': difficult, 'det': det}
    if npos == 0:
        return None

    det_image_ids = [d[0] for d in dets]
    confidence = np.array([float(d[1]) for d in dets])
    BB = np.array([[float(v) for v in d[2]] for d in dets]).reshape(-1, 4)

    # sort by confidence, stable
    sorted_ind = np.argsort(-confidence, kind='stable')
    BB = BB[sorted_ind, :]
    det_image_ids = [det_image_ids[x] for x in sorted_ind]

    nd = len(det_image_ids)
    tp = np.zeros(nd)
    fp = np.zeros(nd)
    for d in range(nd):
        R = class_recs[det_image_ids[d]]
        bb = BB[d, :].astype(float)
        ovmax = -np.inf
        BBGT = R['bbox'].astype(float)

        if BBGT.size > 0:
            # intersection, continuous coordinates (no +1)
            ixmin = np.maximum(BBGT[:, 0], bb[0])
            iymin = np.maximum(BBGT[:, 1], bb[1])
            ixmax = np.minimum(BBGT[:, 0] + BBGT[:, 2], bb[0] + bb[2])
            iymax = np.minimum(BBGT[:, 1] + BBGT[:, 3], bb[1] + bb[3])
            iw = np.maximum(ixmax - ixmin, 0.)
            ih = np.maximum(iymax - iymin, 0.)
            inters = iw * ih
            # union, areas as w*h
            uni = (bb[2] * bb[3] + BBGT[:, 2] * BBGT[:, 3] - inters)
            with np.errstate(divide='ignore', invalid='ignore'):
                overlaps = inters / uni
            ovmax = np.max(overlaps)
            jmax = np.argmax(overlaps)

        matched = (ovmax > ovthresh) if strict else (ovmax >= ovthresh)
        if matched:
            if not R['difficult'][jmax]:
                if not R['det'][jmax]:
                    tp[d] = 1.
                    R['det'][jmax] = 1
                else:
                    fp[d] = 1.
        else:
            fp[d] = 1.

    fp = np.cumsum(fp)
    tp = np.cumsum(tp)
    rec = tp / float(npos)
    prec = tp / np.maximum(tp + fp, np.finfo(np.float64).eps)
    return float(voc_ap(rec, prec, use_07_metric))


def main(argv):
    parser = argparse.ArgumentParser(description='PASCAL VOC per-class AP reference')
    parser.add_argument('gt_json')
    parser.add_argument('results_json')
    parser.add_argument('--use-07-metric', action='store_true')
    parser.add_argument('--iou', type=float, default=0.5)
    parser.add_argument('--strict', action='store_true',
                        help='match when IoU > threshold (py-faster-rcnn) instead of >= (Matlab devkit)')
    args = parser.parse_args(argv[1:])

    with open(args.gt_json) as f:
        gt = json.load(f)
    with open(args.results_json) as f:
        results = json.load(f)
    if not isinstance(results, list):
        raise ValueError('results are not a list of objects')

    image_ids = [img['id'] for img in gt.get('images', [])]
    image_set = set(image_ids)
    cat_ids = [cat['id'] for cat in gt.get('categories', [])]
    cat_set = set(cat_ids)

    gt_by_class = {c: {} for c in cat_ids}
    for ann in gt.get('annotations', []):
        if ann['image_id'] not in image_set or ann['category_id'] not in cat_set:
            continue
        gt_by_class[ann['category_id']].setdefault(ann['image_id'], []).append(
            (ann['bbox'], int(ann.get('difficult', 0))))

    dets_by_class = {c: [] for c in cat_ids}
    for r in results:
        if r['image_id'] not in image_set:
            raise KeyError('result on image_id %r, which is not in the ground truth' % (r['image_id'],))
        if r['category_id'] not in cat_set:
            continue
        dets_by_class[r['category_id']].append((r['image_id'], r['score'], r['bbox']))

    aps = {}
    for c in cat_ids:
        aps[str(c)] = voc_eval_class(image_ids, gt_by_class[c], dets_by_class[c],
                                     args.iou, args.use_07_metric, args.strict)
    valid = [v for v in aps.values() if v is not None]
    mean_ap = float(np.mean(valid)) if valid else None
    json.dump({'ap': aps, 'map': mean_ap}, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
