"""Metric fixtures from scikit-learn for tests/eval/test_metrics.c.

Run with Debian's Python (python3-sklearn, python3-torch):
    /usr/bin/python3 tests/make_fixtures_metrics.py

Each file holds labels [n] (I32, 0-based), scores [n][k] (F32 logits) and
sklearn's answers in F64/I64:
    precision, recall, f1, support [k]   precision_recall_fscore_support(
                                          y, p, labels=range(k), zero_division=0)
    macro, weighted [3]                  (precision, recall, f1) averages, same call
    accuracy, top5 [1]                   accuracy_score, top_k_accuracy_score(k=5)
    confusion [k][k]                     confusion_matrix(y, p, labels=range(k))
    pass_share [3]                       share of classes with support > 0 whose
                                         metric >= 0.7 (numpy, from sklearn's numbers)
    loss [1]                             log_loss(y, softmax(scores), labels=range(k))
The prediction is numpy's argmax (first maximum). Cases: zero division (a
class never predicted, a class without support), k=3 < 5 (top-5 is 1), and
102 classes with 1020 samples and a few classes without support.
"""
import os

import numpy as np
import torch
from sklearn.metrics import (accuracy_score, confusion_matrix, log_loss,
                             precision_recall_fscore_support, top_k_accuracy_score)

import fixture_io

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "fixtures")


def softmax(s):
    s = s.astype(np.float64)
    e = np.exp(s - s.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def make(name, y, scores, k):
    scores = scores.astype(np.float32)
    p = scores.argmax(axis=1)
    labels = list(range(k))
    pr, rc, f1, sup = precision_recall_fscore_support(y, p, labels=labels, zero_division=0)
    mac = precision_recall_fscore_support(y, p, labels=labels, zero_division=0, average="macro")[:3]
    wt = precision_recall_fscore_support(y, p, labels=labels, zero_division=0, average="weighted")[:3]
    acc = accuracy_score(y, p)
    top5 = top_k_accuracy_score(y, scores, k=5, labels=labels) if k > 5 else 1.0
    cm = confusion_matrix(y, p, labels=labels)
    has = sup > 0
    share = [float(np.mean(m[has] >= 0.7)) for m in (pr, rc, f1)]
    loss = log_loss(y, softmax(scores), labels=labels)
    t = {
        "labels": torch.tensor(y, dtype=torch.int32),
        "scores": torch.tensor(scores),
        "precision": torch.tensor(pr, dtype=torch.float64),
        "recall": torch.tensor(rc, dtype=torch.float64),
        "f1": torch.tensor(f1, dtype=torch.float64),
        "support": torch.tensor(sup, dtype=torch.int64),
        "macro": torch.tensor(mac, dtype=torch.float64),
        "weighted": torch.tensor(wt, dtype=torch.float64),
        "accuracy": torch.tensor([acc], dtype=torch.float64),
        "top5": torch.tensor([top5], dtype=torch.float64),
        "confusion": torch.tensor(cm, dtype=torch.int64),
        "pass_share": torch.tensor(share, dtype=torch.float64),
        "loss": torch.tensor([loss], dtype=torch.float64),
    }
    fixture_io.save(os.path.join(OUT, name), t, {"k": k, "n": len(y), "sklearn": __import__("sklearn").__version__})
    print(name, "n", len(y), "k", k, "acc %.4f top5 %.4f wF1 %.4f mF1 %.4f" % (acc, top5, wt[2], mac[2]))


def noisy_scores(rng, y, k, signal):
    s = rng.normal(0, 1, size=(len(y), k))
    s[np.arange(len(y)), y] += signal
    return s


def main():
    rng = np.random.default_rng(20240607)
    # Zero division: class 3 has support but is never predicted; class 4 has
    # no support but is predicted; class 0 is predicted perfectly.
    k = 6
    y = np.array([0] * 6 + [1] * 8 + [2] * 7 + [3] * 5 + [5] * 4)
    s = noisy_scores(rng, y, k, 1.2)
    s[:, 3] = -10.0                 # never predicted
    s[y == 0, 0] += 10.0            # class 0 always right
    s[np.arange(len(y)) % 7 == 2, 4] = 12.0   # class 4 predicted, never true
    make("metrics_zero_div.safetensors", y, s, k)

    # Fewer than 5 classes: top-5 accuracy is 1.
    k = 3
    y = rng.integers(0, k, size=20)
    make("metrics_k3.safetensors", y, noisy_scores(rng, y, k, 0.8), k)

    # 102 classes, 10 per class like the seed test split, with classes 7, 50
    # and 101 (0-based) left without samples; some classes well learnt, some not.
    k = 102
    y = np.repeat(np.arange(k), 10)
    y = y[(y != 7) & (y != 50) & (y != 101)]
    signal = rng.uniform(0.5, 4.0, size=k)[y]
    s = rng.normal(0, 1, size=(len(y), k))
    s[np.arange(len(y)), y] += signal
    make("metrics_102.safetensors", y, s, k)


if __name__ == "__main__":
    main()
