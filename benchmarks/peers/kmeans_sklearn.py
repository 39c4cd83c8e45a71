#!/usr/bin/python3
"""scikit-learn's KMeans on the same data as the Go benchmark runner.

Reads MNIST-format IDX files (plain or .gz), scales pixels to float32 /255,
or svmlight files (zero-based features) as float32 CSR matrices, fits
KMeans(n_clusters=k, init="k-means++", n_init=1, random_state=seed) on the
training rows, timing fit() alone, and prints one JSON line:
fit seconds, test msd (mean over test rows of the squared Euclidean distance
to the closest center, what SageMaker k-means reports as "test msd"), NMI of
the predicted test clusters against the test labels (arithmetic mean
normalisation, sklearn's default), and the process's peak RSS.

Run it with Debian's /usr/bin/python3, which has python3-sklearn.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import sklearn
from sklearn.cluster import KMeans
from sklearn.datasets import load_svmlight_file
from sklearn.metrics import normalized_mutual_info_score

from idx import images, read_idx


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train-images")
    p.add_argument("--test-images")
    p.add_argument("--test-labels")
    p.add_argument("--train-svmlight")
    p.add_argument("--test-svmlight")
    p.add_argument("--n-features", type=int)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()

    if a.train_svmlight:
        x_train, _ = load_svmlight_file(a.train_svmlight, n_features=a.n_features,
                                        dtype=np.float32, zero_based=True)
        x_test, y = load_svmlight_file(a.test_svmlight, n_features=a.n_features,
                                       dtype=np.float32, zero_based=True)
        y_test = y.astype(np.int64)
    else:
        x_train = images(a.train_images)
        x_test = images(a.test_images)
        y_test = read_idx(a.test_labels).astype(np.int64)

    km = KMeans(n_clusters=a.k, init="k-means++", n_init=1, random_state=a.seed)
    t0 = time.perf_counter()
    km.fit(x_train)
    fit_s = time.perf_counter() - t0

    d = km.transform(x_test).min(axis=1).astype(np.float64)
    pred = km.predict(x_test)
    out = {
        "peer": "scikit-learn KMeans",
        "version": sklearn.__version__,
        "params": {"n_clusters": a.k, "init": "k-means++", "n_init": 1,
                   "random_state": a.seed, "algorithm": km.algorithm,
                   "max_iter": km.max_iter, "tol": km.tol},
        "n_iter": int(km.n_iter_),
        "fit_seconds": fit_s,
        "train_msd": float(km.inertia_) / x_train.shape[0],
        "test_msd": float(np.mean(d * d)),
        "test_nmi": float(normalized_mutual_info_score(y_test, pred)),
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
