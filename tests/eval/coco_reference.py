#!/usr/bin/python3
"""Independent reference for COCO bbox evaluation, used by the C++ metric tests.

    coco_reference.py GT_JSON RESULTS_JSON
        -> stdout: {"stats": [12 floats]}

The 12 numbers are what pycocotools gives in COCOeval(cocoGt, cocoDt, 'bbox').stats after
evaluate(); accumulate(); summarize():
    0 AP@[.5:.95]  1 AP@.5  2 AP@.75  3 AP small  4 AP medium  5 AP large      (maxDets 100)
    6 AR@1  7 AR@10  8 AR@100  9 AR small  10 AR medium  11 AR large

What this transcribes (by reading, not by import; pycocotools is not installed here):
  * cocodataset/cocoapi PythonAPI/pycocotools/cocoeval.py: Params.setDetParams, COCOeval._prepare,
    evaluate, computeIoU, evaluateImg, accumulate, summarize/_summarizeDets.
  * cocodataset/cocoapi PythonAPI/pycocotools/coco.py: COCO.createIndex / getAnnIds / loadAnns
    (which annotations are used, in which order) and COCO.loadRes for bbox results
    (area = w*h, id = index+1 in the results list, iscrowd = 0, and the assert that every result
    image_id is a ground-truth image).
  * cocodataset/cocoapi common/maskApi.c bbIou: IoU of xywh boxes, where for a crowd ground truth
    the union is the detection's area.

Conventions (the same as pycocotools unless marked "ours"):
  * params: iouThrs = np.linspace(.5, .95, 10); recThrs = np.linspace(0, 1, 101); maxDets = [1, 10, 100];
    area ranges all [0, 1e10], small [0, 32**2], medium [32**2, 96**2], large [96**2, 1e10]
    (1e5**2 in the original); both ends are inclusive.
  * imgIds = sorted GT image ids, catIds = sorted GT category ids. GT annotations on other images or
    categories, and results on other categories, are not used. A result whose image_id is not a GT
    image raises an error (loadRes's assert).
  * gt 'ignore' = iscrowd. gt 'area' is the annotation's "area" field (for real COCO that is the
    segment area, not the box area). Ours: a GT annotation lacking "area" uses w*h, one lacking
    "iscrowd" uses 0 and one lacking "id" gets index+1 in the annotation list (pycocotools would
    raise a KeyError in all three cases). GT ids are used as they are, duplicates included (the
    later annotation with an id shadows the earlier ones, as COCO.anns does), and a GT with id 0 can
    never be a true positive (dtMatches stores the gt id and 0 means "unmatched").
  * Detections are sorted by score with a stable sort (numpy mergesort; ties keep input order) and
    cut to maxDets[-1] before the IoU; in accumulate, ties across images keep image-id order.
  * Ours: an empty results list gives the same result as "no detections" (0 for categories with
    non-ignored GT, -1 where there is none); pycocotools's loadRes raises IndexError on it.
"""
import json
import sys

import numpy as np


# --------------------------------------------------------------------------- params

class Params:
    def __init__(self):
        self.imgIds = []
        self.catIds = []
        self.iouThrs = np.linspace(.5, 0.95, int(np.round((0.95 - .5) / .05)) + 1, endpoint=True)
        self.recThrs = np.linspace(.0, 1.00, int(np.round((1.00 - .0) / .01)) + 1, endpoint=True)
        self.maxDets = [1, 10, 100]
        self.areaRng = [[0 ** 2, 1e5 ** 2], [0 ** 2, 32 ** 2], [32 ** 2, 96 ** 2], [96 ** 2, 1e5 ** 2]]
        self.areaRngLbl = ['all', 'small', 'medium', 'large']
        self.useCats = 1


# --------------------------------------------------------------------------- loading (coco.py)

class Dataset:
    """The parts of pycocotools.coco.COCO that bbox evaluation touches."""

    def __init__(self, images, categories, annotations):
        self.imgs = {}
        self.cats = {}
        self.anns = {}
        self.imgToAnns = {}
        for img in images:
            self.imgs[img['id']] = img
        for cat in categories:
            self.cats[cat['id']] = cat
        for ann in annotations:
            self.imgToAnns.setdefault(ann['image_id'], []).append(ann)
            self.anns[ann['id']] = ann  # a later duplicate id shadows an earlier one, as in COCO

    def getImgIds(self):
        return list(self.imgs.keys())

    def getCatIds(self):
        return list(self.cats.keys())

    def getAnns(self, imgIds, catIds):
        # getAnnIds(imgIds=..., catIds=...) followed by loadAnns(ids)
        anns = []
        for imgId in imgIds:
            anns.extend(self.imgToAnns.get(imgId, []))
        catSet = set(catIds)
        ids = [ann['id'] for ann in anns if ann['category_id'] in catSet]
        return [self.anns[i] for i in ids]


def load_gt(path):
    with open(path) as f:
        data = json.load(f)
    annotations = []
    for index, ann in enumerate(data.get('annotations', [])):
        ann = dict(ann)
        if 'id' not in ann:
            ann['id'] = index + 1
        if 'iscrowd' not in ann:
            ann['iscrowd'] = 0
        if 'area' not in ann:
            ann['area'] = ann['bbox'][2] * ann['bbox'][3]
        annotations.append(ann)
    return Dataset(data.get('images', []), data.get('categories', []), annotations)


def load_results(gt, path):
    """COCO.loadRes for a list of bbox results."""
    with open(path) as f:
        anns = json.load(f)
    assert type(anns) == list, 'results in not an array of objects'
    annsImgIds = [ann['image_id'] for ann in anns]
    if not set(annsImgIds) == (set(annsImgIds) & set(gt.getImgIds())):
        raise AssertionError('Results do not correspond to current coco set')
    out = []
    for index, ann in enumerate(anns):
        ann = dict(ann)
        bb = ann['bbox']
        ann['area'] = bb[2] * bb[3]
        ann['id'] = index + 1
        ann['iscrowd'] = 0
        out.append(ann)
    return Dataset(list(gt.imgs.values()), list(gt.cats.values()), out)


# --------------------------------------------------------------------------- IoU (maskApi.c bbIou)

def bb_iou(dts, gts, iscrowd):
    """o[d][g] for xywh boxes; crowd gt: union = detection area."""
    o = np.zeros((len(dts), len(gts)))
    for g, G in enumerate(gts):
        G = [float(v) for v in G]
        ga = G[2] * G[3]
        crowd = iscrowd[g]
        for d, D in enumerate(dts):
            D = [float(v) for v in D]
            da = D[2] * D[3]
            o[d, g] = 0
            w = min(D[2] + D[0], G[2] + G[0]) - max(D[0], G[0])
            if w <= 0:
                continue
            h = min(D[3] + D[1], G[3] + G[1]) - max(D[1], G[1])
            if h <= 0:
                continue
            i = w * h
            u = da if crowd else da + ga - i
            o[d, g] = i / u
    return o


# --------------------------------------------------------------------------- cocoeval.py

class Evaluator:
    def __init__(self, cocoGt, cocoDt):
        self.cocoGt = cocoGt
        self.cocoDt = cocoDt
        self.params = Params()
        self.params.imgIds = sorted(cocoGt.getImgIds())
        self.params.catIds = sorted(cocoGt.getCatIds())

    def _prepare(self):
        p = self.params
        gts = self.cocoGt.getAnns(p.imgIds, p.catIds)
        dts = self.cocoDt.getAnns(p.imgIds, p.catIds)
        for gt in gts:
            gt['ignore'] = gt['ignore'] if 'ignore' in gt else 0
            gt['ignore'] = 'iscrowd' in gt and gt['iscrowd']
        self._gts = {}
        self._dts = {}
        for gt in gts:
            self._gts.setdefault((gt['image_id'], gt['category_id']), []).append(gt)
        for dt in dts:
            self._dts.setdefault((dt['image_id'], dt['category_id']), []).append(dt)

    def evaluate(self):
        p = self.params
        p.imgIds = list(np.unique(p.imgIds))
        p.catIds = list(np.unique(p.catIds))
        p.maxDets = sorted(p.maxDets)
        self._prepare()
        self.ious = {(imgId, catId): self.computeIoU(imgId, catId)
                     for imgId in p.imgIds for catId in p.catIds}
        maxDet = p.maxDets[-1]
        # keyed (category index, area index, image index) instead of the flat list's Nk + Na + i
        self.evalImgs = {}
        for k, catId in enumerate(p.catIds):
            for a, areaRng in enumerate(p.areaRng):
                for i, imgId in enumerate(p.imgIds):
                    self.evalImgs[k, a, i] = self.evaluateImg(imgId, catId, areaRng, maxDet)

    def computeIoU(self, imgId, catId):
        p = self.params
        gt = self._gts.get((imgId, catId), [])
        dt = self._dts.get((imgId, catId), [])
        if len(gt) == 0 and len(dt) == 0:
            return []
        inds = np.argsort([-d['score'] for d in dt], kind='mergesort')
        dt = [dt[i] for i in inds]
        if len(dt) > p.maxDets[-1]:
            dt = dt[0:p.maxDets[-1]]
        g = [g['bbox'] for g in gt]
        d = [d['bbox'] for d in dt]
        iscrowd = [int(o['iscrowd']) for o in gt]
        if len(d) == 0 or len(g) == 0:  # maskUtils.iou returns [] then
            return []
        return bb_iou(d, g, iscrowd)

    def evaluateImg(self, imgId, catId, aRng, maxDet):
        p = self.params
        gt = self._gts.get((imgId, catId), [])
        dt = self._dts.get((imgId, catId), [])
        if len(gt) == 0 and len(dt) == 0:
            return None

        for g in gt:
            if g['ignore'] or (g['area'] < aRng[0] or g['area'] > aRng[1]):
                g['_ignore'] = 1
            else:
                g['_ignore'] = 0

        # sort dt highest score first, sort gt ignore last
        gtind = np.argsort([g['_ignore'] for g in gt], kind='mergesort')
        gt = [gt[i] for i in gtind]
        dtind = np.argsort([-d['score'] for d in dt], kind='mergesort')
        dt = [dt[i] for i in dtind[0:maxDet]]
        iscrowd = [int(o['iscrowd']) for o in gt]
        ious = self.ious[imgId, catId]
        if len(ious) > 0:
            ious = ious[:, gtind]

        T = len(p.iouThrs)
        G = len(gt)
        D = len(dt)
        gtm = np.zeros((T, G))
        dtm = np.zeros((T, D))
        gtIg = np.array([g['_ignore'] for g in gt])
        dtIg = np.zeros((T, D))
        if not len(ious) == 0:
            for tind, t in enumerate(p.iouThrs):
                for dind, d in enumerate(dt):
                    # information about best match so far (m=-1 -> unmatched)
                    iou = min([t, 1 - 1e-10])
                    m = -1
                    for gind, g in enumerate(gt):
                        # if this gt already matched, and not a crowd, continue
                        if gtm[tind, gind] > 0 and not iscrowd[gind]:
                            continue
                        # if dt matched to reg gt, and on ignore gt, stop
                        if m > -1 and gtIg[m] == 0 and gtIg[gind] == 1:
                            break
                        # continue to next gt unless better match made (ties: the later gt wins)
                        if ious[dind, gind] < iou:
                            continue
                        iou = ious[dind, gind]
                        m = gind
                    if m == -1:
                        continue
                    dtIg[tind, dind] = gtIg[m]
                    dtm[tind, dind] = gt[m]['id']
                    gtm[tind, m] = d['id']
        # set unmatched detections outside of area range to ignore
        a = np.array([d['area'] < aRng[0] or d['area'] > aRng[1] for d in dt]).reshape((1, len(dt)))
        dtIg = np.logical_or(dtIg, np.logical_and(dtm == 0, np.repeat(a, T, 0)))
        return {
            'dtMatches': dtm,
            'dtScores': [d['score'] for d in dt],
            'gtIgnore': gtIg,
            'dtIgnore': dtIg,
        }

    def accumulate(self):
        p = self.params
        T = len(p.iouThrs)
        R = len(p.recThrs)
        K = len(p.catIds)
        A = len(p.areaRng)
        M = len(p.maxDets)
        precision = -np.ones((T, R, K, A, M))  # -1 for the precision of absent categories
        recall = -np.ones((T, K, A, M))
        I = len(p.imgIds)
        for k in range(K):
            for a in range(A):
                for m, maxDet in enumerate(p.maxDets):
                    E = [self.evalImgs[k, a, i] for i in range(I)]
                    E = [e for e in E if e is not None]
                    if len(E) == 0:
                        continue
                    dtScores = np.concatenate([e['dtScores'][0:maxDet] for e in E])
                    # mergesort, to be consistent with the Matlab implementation
                    inds = np.argsort(-dtScores, kind='mergesort')

                    dtm = np.concatenate([e['dtMatches'][:, 0:maxDet] for e in E], axis=1)[:, inds]
                    dtIg = np.concatenate([e['dtIgnore'][:, 0:maxDet] for e in E], axis=1)[:, inds]
                    gtIg = np.concatenate([e['gtIgnore'] for e in E])
                    npig = np.count_nonzero(gtIg == 0)
                    if npig == 0:
                        continue
                    tps = np.logical_and(dtm, np.logical_not(dtIg))
                    fps = np.logical_and(np.logical_not(dtm), np.logical_not(dtIg))

                    tp_sum = np.cumsum(tps, axis=1).astype(dtype=np.float64)
                    fp_sum = np.cumsum(fps, axis=1).astype(dtype=np.float64)
                    for t, (tp, fp) in enumerate(zip(tp_sum, fp_sum)):
                        tp = np.array(tp)
                        fp = np.array(fp)
                        nd = len(tp)
                        rc = tp / npig
                        pr = tp / (fp + tp + np.spacing(1))
                        q = np.zeros((R,))

                        if nd:
                            recall[t, k, a, m] = rc[-1]
                        else:
                            recall[t, k, a, m] = 0

                        pr = pr.tolist()
                        q = q.tolist()
                        # precision envelope, right to left
                        for i in range(nd - 1, 0, -1):
                            if pr[i] > pr[i - 1]:
                                pr[i - 1] = pr[i]

                        inds_r = np.searchsorted(rc, p.recThrs, side='left')
                        # recall thresholds past the last reached recall keep precision 0
                        # (the original gets there through an IndexError caught by a bare except)
                        for ri, pi in enumerate(inds_r):
                            if pi >= nd:
                                break
                            q[ri] = pr[pi]
                        precision[t, :, k, a, m] = np.array(q)
        self.eval = {'precision': precision, 'recall': recall}

    def summarize(self):
        p = self.params

        def _summarize(ap=1, iouThr=None, areaRng='all', maxDets=100):
            aind = [i for i, aRng in enumerate(p.areaRngLbl) if aRng == areaRng]
            mind = [i for i, mDet in enumerate(p.maxDets) if mDet == maxDets]
            if ap == 1:
                s = self.eval['precision']  # [TxRxKxAxM]
                if iouThr is not None:
                    t = np.where(iouThr == p.iouThrs)[0]
                    s = s[t]
                s = s[:, :, :, aind, mind]
            else:
                s = self.eval['recall']  # [TxKxAxM]
                if iouThr is not None:
                    t = np.where(iouThr == p.iouThrs)[0]
                    s = s[t]
                s = s[:, :, aind, mind]
            if len(s[s > -1]) == 0:
                mean_s = -1
            else:
                mean_s = np.mean(s[s > -1])
            return float(mean_s)

        stats = np.zeros((12,))
        stats[0] = _summarize(1)
        stats[1] = _summarize(1, iouThr=.5, maxDets=p.maxDets[2])
        stats[2] = _summarize(1, iouThr=.75, maxDets=p.maxDets[2])
        stats[3] = _summarize(1, areaRng='small', maxDets=p.maxDets[2])
        stats[4] = _summarize(1, areaRng='medium', maxDets=p.maxDets[2])
        stats[5] = _summarize(1, areaRng='large', maxDets=p.maxDets[2])
        stats[6] = _summarize(0, maxDets=p.maxDets[0])
        stats[7] = _summarize(0, maxDets=p.maxDets[1])
        stats[8] = _summarize(0, maxDets=p.maxDets[2])
        stats[9] = _summarize(0, areaRng='small', maxDets=p.maxDets[2])
        stats[10] = _summarize(0, areaRng='medium', maxDets=p.maxDets[2])
        stats[11] = _summarize(0, areaRng='large', maxDets=p.maxDets[2])
        self.stats = stats
        return stats


def main(argv):
    if len(argv) != 3:
        sys.stderr.write('usage: coco_reference.py GT_JSON RESULTS_JSON\n')
        return 2
    gt = load_gt(argv[1])
    dt = load_results(gt, argv[2])
    E = Evaluator(gt, dt)
    E.evaluate()
    E.accumulate()
    stats = E.summarize()
    json.dump({'stats': [float(x) for x in stats]}, sys.stdout)
    sys.stdout.write('\n')
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
