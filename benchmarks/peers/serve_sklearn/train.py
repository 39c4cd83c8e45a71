#!/usr/bin/python3
"""Fit the serving benchmark's peer model: scikit-learn KMeans (k=10,
k-means++, n_init=1, seed 0) on the Fashion-MNIST training images (float32
/255, as the Go runner converts them), pickled to --out. Prints one JSON line.
"""
import argparse
import gzip
import json
import pickle
import time

import numpy as np
import sklearn
from sklearn.cluster import KMeans


def images(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        b = f.read()
    ndim = int.from_bytes(b[0:4], "big") & 0xFF
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    x = np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)
    return x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255)


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
