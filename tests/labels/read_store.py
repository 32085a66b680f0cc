"""Reads a pseudo-label store with the standard library, numpy and PIL only (no code of ours), as a user would:
prints one JSON object {key: {member suffix: summary}} where the summary is a number computed from the decoded
member (class vector: sum; boxes: their count and coordinate sum; class map: sum of labelled pixels; depth: sum;
normals: sum of the decoded unit vectors' components; a packed image: the sum of its decoded pixels)."""
import io, json, sys, tarfile
import numpy as np
from PIL import Image

store = sys.argv[1]
manifest = json.load(open(f"{store}/manifest.json"))
out = {}
for shard in manifest["shards"]:
    with tarfile.open(f"{store}/shards/{shard['name']}.tar") as tar:
        for member in tar:
            key, suffix = member.name.split(".", 1)
            data = tar.extractfile(member).read()
            entry = out.setdefault(key, {})
            if suffix == "json":
                entry["json"] = json.loads(data)["index"]
            elif suffix in ("cls.npy", "depth.npy"):
                entry[suffix] = float(np.load(io.BytesIO(data)).astype(np.float64).sum())
            elif suffix == "det.json":
                det = json.loads(data)
                entry[suffix] = [len(det["boxes"]), float(np.sum(det["boxes"]))]
            elif suffix == "seg.png":
                seg = np.asarray(Image.open(io.BytesIO(data))).astype(np.int64)
                entry[suffix] = int(seg[seg != 255].sum())
            elif suffix == "normal.npy":
                entry[suffix] = float(np.load(io.BytesIO(data)).astype(np.float64).sum())
            elif suffix in ("jpg", "png"):
                entry["image"] = int(np.asarray(Image.open(io.BytesIO(data)).convert("RGB")).astype(np.int64).sum())
print(json.dumps(out, sort_keys=True))
