#!/usr/bin/python3
"""scikit-learn's PCA on the same data as the Go benchmark runner.

Reads MNIST-format IDX files (plain or .gz), scales pixels to float32 /255,
and fits PCA(n_components=k, svd_solver=SOLVER, random_state=seed) on the
training images for each solver asked for ("full", "randomized"), timing
fit() alone. For each it reports the explained variance ratio of the k
components (sum of explained_variance_ratio_, i.e. the k largest variances
over the total variance of the training data) and the test reconstruction
error: the mean over test rows of ||x - (mean + (x - mean) V Vᵀ)||², with V
the d×k matrix whose columns are components_ (float64 arithmetic). It
prints one JSON line holding a result per solver and the process's peak RSS.

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
from sklearn.decomposition import PCA

from idx import images


def reconstruction_error(x, mean, v):
    """Mean over rows of ||x - (mean + (x - mean) v vᵀ)||², in float64."""
    xc = x.astype(np.float64) - mean
    r = xc - (xc @ v) @ v.T
    return float(np.mean(np.sum(r * r, axis=1)))


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train-images", required=True)
    p.add_argument("--test-images", required=True)
    p.add_argument("--k", type=int, default=50)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--solvers", default="full,randomized")
    a = p.parse_args()

    x_train = images(a.train_images)
    x_test = images(a.test_images)

    results = {}
    for solver in a.solvers.split(","):
        pca = PCA(n_components=a.k, svd_solver=solver, random_state=a.seed)
        t0 = time.perf_counter()
        pca.fit(x_train)
        fit_s = time.perf_counter() - t0
        mean = pca.mean_.astype(np.float64)
        v = pca.components_.astype(np.float64).T  # d × k
        results[solver] = {
            "fit_seconds": fit_s,
            "explained_variance_ratio": float(np.sum(pca.explained_variance_ratio_, dtype=np.float64)),
            "test_reconstruction_error": reconstruction_error(x_test, mean, v),
            "singular_values_head": [float(s) for s in pca.singular_values_[:5]],
            "params": {"n_components": a.k, "svd_solver": solver, "random_state": a.seed,
                       "iterated_power": pca.iterated_power, "n_oversamples": getattr(pca, "n_oversamples", None),
                       "dtype": str(x_train.dtype)},
        }
    out = {
        "peer": "scikit-learn PCA",
        "version": sklearn.__version__,
        "results": results,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "python": sys.version.split()[0],
        "numpy": np.__version__,
        "cpus": os.cpu_count(),
    }
    print(json.dumps(out))


if __name__ == "__main__":
    main()
