#!/usr/bin/python3
"""Makes the small Flowers-102 sample in data/ from the full dataset
(default /work/shared/data/flowers-102-s128, the official layout): per class
3 images of tstid, 1 of valid and 1 of trnid (the first by id), reduced to 80 px
on the shorter side (JPEG quality 85), re-numbered 1..M in original id order,
with its own imagelabels.mat and setid.mat and the id mapping in ids.csv.
Run: /usr/bin/python3 data/make_sample.py [SOURCE]"""
import json
import os
import shutil
import sys

import numpy as np
import scipy.io
from PIL import Image

SRC = sys.argv[1] if len(sys.argv) > 1 else "/work/shared/data/flowers-102-s128"
OUT = os.path.dirname(os.path.abspath(__file__))
PER = {"trnid": 1, "valid": 1, "tstid": 3}
SHORT = 80

labels = scipy.io.loadmat(os.path.join(SRC, "imagelabels.mat"))["labels"].ravel().astype(int)
setid = scipy.io.loadmat(os.path.join(SRC, "setid.mat"))
chosen = {}
for split, k in PER.items():
    ids = sorted(int(i) for i in setid[split].ravel())
    taken = {}
    for i in ids:
        c = labels[i - 1]
        if taken.get(c, 0) < k:
            taken[c] = taken.get(c, 0) + 1
            chosen[i] = split
old_ids = sorted(chosen)
new_of = {o: n + 1 for n, o in enumerate(old_ids)}
os.makedirs(os.path.join(OUT, "jpg"), exist_ok=True)
for o in old_ids:
    im = Image.open(os.path.join(SRC, "jpg", "image_%05d.jpg" % o)).convert("RGB")
    w, h = im.size
    s = SHORT / min(w, h)
    im = im.resize((max(1, round(w * s)), max(1, round(h * s))), Image.BICUBIC, reducing_gap=None)
    im.save(os.path.join(OUT, "jpg", "image_%05d.jpg" % new_of[o]), quality=85)
new_labels = np.array([[labels[o - 1] for o in old_ids]], dtype=np.uint8)
scipy.io.savemat(os.path.join(OUT, "imagelabels.mat"), {"labels": new_labels.astype(np.float64)},
                 do_compression=True, oned_as="row")
sets = {sp: np.array([[new_of[o] for o in old_ids if chosen[o] == sp]], dtype=np.float64) for sp in PER}
scipy.io.savemat(os.path.join(OUT, "setid.mat"), sets, do_compression=True, oned_as="row")
shutil.copyfile(os.path.join(SRC, "cat_to_name.json"), os.path.join(OUT, "cat_to_name.json"))
with open(os.path.join(OUT, "ids.csv"), "w") as f:
    f.write("id,original_id,label,split\n")
    for o in old_ids:
        f.write("%d,%d,%d,%s\n" % (new_of[o], o, labels[o - 1], chosen[o]))
print(len(old_ids), "images;", {sp: sets[sp].size for sp in sets})
