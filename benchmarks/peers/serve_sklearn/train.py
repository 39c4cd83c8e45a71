#!/usr/bin/python3
"""Fit the serving benchmark's peer model: scikit-learn KMeans (k=10,
k-means++, n_init=1, seed 0) on the Fashion-MNIST training images (float32
/255, as the Go runner converts them), pickled to --out. Prints one JSON line.
"""
import argparse
import json
import os
import pickle
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import KMeans

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))
from idx import images  # noqa: E402


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train-images", required=True)
    p.add_argument("--out", required=True)
    p.add_argument("--k", type=int, default=10)
    a = p.parse_args()
    x = images(a.train_images)
    t0 = time.perf_counter()
    km = KMeans(n_clusters=a.k, init="k-means++", n_init=1, random_state=0).fit(x)
    with open(a.out, "wb") as f:
        pickle.dump(km, f)
    print(json.dumps({"version": sklearn.__version__, "fit_seconds": time.perf_counter() - t0}))


if __name__ == "__main__":
    main()
