#!/usr/bin/python3
"""scikit-learn's linear models on the same data as the Go benchmark runner.

--task multiclass: Fashion-MNIST IDX files (pixels float32 /255),
  LogisticRegression() with its defaults (lbfgs, multinomial, C=1,
  max_iter=100); test accuracy and macro F1.
--task binary: CSV files written by the runner (label first, 0/1),
  LogisticRegression() defaults; test F1 and accuracy. --standardize puts
  a StandardScaler before it (what linear learner's normalize_data does).
--task regression: CSV files written by the runner (label first),
  LinearRegression() (ordinary least squares); test rmse.

Times fit() alone and prints one JSON line. Run it with Debian's
/usr/bin/python3, which has python3-sklearn.
"""
import argparse
import json
import os
import resource
import sys
import time
import warnings

import numpy as np
import sklearn
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LinearRegression, LogisticRegression
from sklearn.metrics import accuracy_score, f1_score, mean_squared_error
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from idx import images, read_idx


def csv(path):
    a = np.loadtxt(path, delimiter=",", dtype=np.float32)
    return a[:, 1:], a[:, 0]


def main():
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--task", required=True, choices=["multiclass", "binary", "regression"])
    for name in ["train-images", "train-labels", "test-images", "test-labels", "train-csv", "test-csv"]:
        p.add_argument("--" + name)
    p.add_argument("--standardize", action="store_true")
    a = p.parse_args()
    if a.task == "multiclass":
        x, y = images(a.train_images), read_idx(a.train_labels).astype(np.int64)
        xt, yt = images(a.test_images), read_idx(a.test_labels).astype(np.int64)
    else:
        x, y = csv(a.train_csv)
        xt, yt = csv(a.test_csv)
    if a.task == "regression":
        model = LinearRegression()
    else:
        model = LogisticRegression()
        y, yt = y.astype(np.int64), yt.astype(np.int64)
    if a.standardize:
        model = make_pipeline(StandardScaler(), model)
    t0 = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(x, y)
    fit_s = time.perf_counter() - t0
    pred = model.predict(xt)
    if a.task == "regression":
        quality = {"test rmse": float(np.sqrt(mean_squared_error(yt, pred)))}
    elif a.task == "binary":
        quality = {"test F1": float(f1_score(yt, pred)), "test accuracy": float(accuracy_score(yt, pred))}
    else:
        quality = {"test accuracy": float(accuracy_score(yt, pred)), "test macro F1": float(f1_score(yt, pred, average="macro"))}
    last = model[-1] if a.standardize else model
    params = {k: v for k, v in last.get_params().items() if isinstance(v, (int, float, str, bool, type(None)))}
    name = ("StandardScaler+" if a.standardize else "") + type(last).__name__
    print(json.dumps({
        "peer": "scikit-learn", "version": sklearn.__version__, "model": name,
        "params": params, "n_iter": np.asarray(getattr(last, "n_iter_", [0])).tolist(),
        "fit_seconds": fit_s, "quality": quality,
        "max_rss_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss,
        "python": sys.version.split()[0], "numpy": np.__version__, "cpus": os.cpu_count(),
    }))


if __name__ == "__main__":
    main()
