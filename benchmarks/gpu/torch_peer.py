#!/usr/bin/env python3
"""PyTorch peer of benchmarks/gpu (main.go): the same Fashion-MNIST data and
the same operations, on the GPU, timed the same way (best of --repeat, with
torch.cuda.synchronize() before reading the clock, host<->device copies
included as the Go backend pays them on every call).

  kmeans: Lloyd iterations from the first k rows (torch.cdist-free form:
          ||x||^2 + ||c||^2 - 2 x c^T, argmin, index_add_ center update)
  knn:    10,000 test rows' k=10 nearest of 60,000 (torch.topk over blocks
          of 1,000 queries), majority vote accuracy
  pca:    X^T X over mini-batches of 5,000 rows

Prints one JSON document. Needs torch with CUDA; run on the GPU machine:
  python3 benchmarks/gpu/torch_peer.py --data /usr/share/datasets/fashion-mnist
"""
import argparse
import gzip
import json
import os
import sys
import time

import numpy as np
import torch


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        b = f.read()
    ndim = int.from_bytes(b[0:4], "big") & 0xFF
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(path):
    x = read_idx(path)
    return np.ascontiguousarray(x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255))


def best(n, f):
    out, t_best = None, float("inf")
    for _ in range(max(n, 1)):
        torch.cuda.synchronize()
        t = time.perf_counter()
        out = f()
        torch.cuda.synchronize()
        t_best = min(t_best, time.perf_counter() - t)
    return t_best, out


def lloyd(x_host, k, iters):
    x = x_host.cuda()
    c = x[:k].clone()
    xn = (x * x).sum(1)
    for _ in range(iters):
        d = xn[:, None] + (c * c).sum(1)[None, :] - 2 * x @ c.T
        dist, idx = d.clamp_min_(0).min(1)
        sums = torch.zeros_like(c).index_add_(0, idx, x)
        counts = torch.bincount(idx, minlength=k).float()
        nz = counts > 0
        c[nz] = sums[nz] / counts[nz, None]
    return float(dist.sum())


def knn(q_host, x_host, q_labels, x_labels, k):
    x = x_host.cuda()
    xn = (x * x).sum(1)
    idx_all = []
    for i0 in range(0, q_host.shape[0], 1000):
        q = q_host[i0:i0 + 1000].cuda()
        d = (q * q).sum(1)[:, None] + xn[None, :] - 2 * q @ x.T
        _, idx = torch.topk(d.clamp_min_(0), k, dim=1, largest=False, sorted=True)
        idx_all.append(idx.cpu())
    idx = torch.cat(idx_all).numpy()
    votes = x_labels[idx]
    pred = np.array([np.bincount(v, minlength=10).argmax() for v in votes])
    return float((pred == q_labels).mean())


def scatter(x_host, batch):
    s = torch.zeros(x_host.shape[1], x_host.shape[1], device="cuda")
    for i0 in range(0, x_host.shape[0], batch):
        b = x_host[i0:i0 + batch].cuda()
        s += b.T @ b
    return float(torch.trace(s))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="/usr/share/datasets/fashion-mnist")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--iters", type=int, default=10)
    a = ap.parse_args()
    if not torch.cuda.is_available():
        sys.exit("torch_peer.py: torch.cuda.is_available() is False: no GPU")
    torch.backends.cuda.matmul.allow_tf32 = False  # float32 products, as cuBLAS's default math in the Go backend
    p = lambda n: os.path.join(a.data, n)
    x = torch.from_numpy(images(p("train-images-idx3-ubyte.gz")))
    q = torch.from_numpy(images(p("t10k-images-idx3-ubyte.gz")))
    xl = read_idx(p("train-labels-idx1-ubyte.gz")).astype(np.int64)
    ql = read_idx(p("t10k-labels-idx1-ubyte.gz")).astype(np.int64)
    n, d = x.shape
    res = []

    def add(work, s, flops, quality):
        res.append({"workload": work, "backend": "torch " + torch.__version__, "seconds": s, "gflops": flops / s / 1e9, "quality": quality})
        print(f"{work:55s} {s:8.3f}s {flops / s / 1e9:8.1f} GFLOP/s  {quality}", file=sys.stderr)

    for k in (10, 100):
        s, inertia = best(a.repeat, lambda: lloyd(x, k, a.iters))
        add(f"kmeans lloyd n={n} d={d} k={k} iters={a.iters}", s, a.iters * 2.0 * n * k * d, f"inertia {inertia:.6g}")
    s, acc = best(a.repeat, lambda: knn(q, x, ql, xl, 10))
    add(f"knn topk queries={q.shape[0]} index={n} d={d} k=10", s, 2.0 * q.shape[0] * n * d, f"accuracy {acc:.4f}")
    s, tr = best(a.repeat, lambda: scatter(x, 5000))
    add(f"pca scatter n={n} d={d} batch=5000", s, 2.0 * n * d * d, f"trace {tr:.6g}")
    json.dump({"device": torch.cuda.get_device_name(0), "results": res}, sys.stdout, indent=2)
    print()


if __name__ == "__main__":
    main()
