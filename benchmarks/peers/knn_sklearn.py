#!/usr/bin/python3
"""k-NN peers on the same data as the Go benchmark runner.

Reads MNIST-format IDX files (plain or .gz), scales pixels to float32 /255,
and classifies the test images by their k nearest training images:

- scikit-learn KNeighborsClassifier(n_neighbors=k, algorithm="brute")
  (uniform weights: majority vote, ties to the smallest label); its time is
  predict() on the test rows (fit() only stores the data);
- when `import faiss` works (Debian's python3-faiss): IndexFlatL2 and
  IndexIVFFlat(nlist, nprobe), index.search() timed, the same majority vote.

Prints one JSON line. Run it with Debian's /usr/bin/python3.
"""
import argparse
import json
import os
import resource
import sys
import time

import numpy as np
import sklearn
from sklearn.neighbors import KNeighborsClassifier

from idx import images, read_idx


def vote(neigh_labels):
    """Majority label per row, ties to the smallest (as sklearn's mode)."""
    out = np.empty(neigh_labels.shape[0], dtype=np.int64)
    for i, row in enumerate(neigh_labels):
        counts = np.bincount(row)
        out[i] = int(np.argmax(counts))  # argmax: first (smallest) of the tied
    return out


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--train-images", required=True)
    p.add_argument("--train-labels", required=True)
    p.add_argument("--test-images", required=True)
    p.add_argument("--test-labels", required=True)
    p.add_argument("--k", type=int, default=10)
    p.add_argument("--nlist", type=int, default=245)
    p.add_argument("--nprobe", type=int, default=8)
    a = p.parse_args()

    x_train, x_test = images(a.train_images), images(a.test_images)
    y_train = read_idx(a.train_labels).astype(np.int64)
    y_test = read_idx(a.test_labels).astype(np.int64)

    clf = KNeighborsClassifier(n_neighbors=a.k, algorithm="brute")
    clf.fit(x_train, y_train)
    t0 = time.perf_counter()
    pred = clf.predict(x_test)
    sk_s = time.perf_counter() - t0
    out = {
        "peer": "scikit-learn KNeighborsClassifier",
        "version": sklearn.__version__,
        "numpy": np.__version__,
        "params": {"n_neighbors": a.k, "algorithm": "brute", "weights": "uniform", "metric": clf.effective_metric_},
        "sklearn_predict_seconds": sk_s,
        "sklearn_accuracy": float(np.mean(pred == y_test)),
        "python": sys.version.split()[0],
        "cpus": os.cpu_count(),
    }
    try:
        import faiss
    except ImportError as e:
        out["faiss"] = None
        out["faiss_error"] = str(e)
    else:
        out["faiss"] = faiss.__version__ if hasattr(faiss, "__version__") else "unknown"
        out["faiss_threads"] = faiss.omp_get_max_threads()
        d = x_train.shape[1]
        flat = faiss.IndexFlatL2(d)
        flat.add(x_train)
        t0 = time.perf_counter()
        _, ids = flat.search(x_test, a.k)
        out["faiss_flat_search_seconds"] = time.perf_counter() - t0
        out["faiss_flat_accuracy"] = float(np.mean(vote(y_train[ids]) == y_test))
        q = faiss.IndexFlatL2(d)
        ivf = faiss.IndexIVFFlat(q, d, a.nlist)
        t0 = time.perf_counter()
        ivf.train(x_train)
        ivf.add(x_train)
        out["faiss_ivf_build_seconds"] = time.perf_counter() - t0
        ivf.nprobe = a.nprobe
        t0 = time.perf_counter()
        _, ids = ivf.search(x_test, a.k)
        out["faiss_ivf_search_seconds"] = time.perf_counter() - t0
        out["faiss_ivf_accuracy"] = float(np.mean(vote(y_train[ids]) == y_test))
        out["faiss_ivf_params"] = {"nlist": a.nlist, "nprobe": a.nprobe}
    out["max_rss_kb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps(out))


if __name__ == "__main__":
    main()
