"""MNIST-format IDX files (plain or .gz) for the peers, read the way the Go
runner reads them: images as float32 pixels / 255, one row per image."""
import gzip

import numpy as np


def read_idx(path):
    opener = gzip.open if path.endswith(".gz") else open
    with opener(path, "rb") as f:
        b = f.read()
    magic = int.from_bytes(b[0:4], "big")
    ndim = magic & 0xFF
    if magic >> 8 != 0x08:
        raise SystemExit(f"{path}: not an unsigned-byte IDX file (magic {magic:#010x})")
    dims = [int.from_bytes(b[4 + 4 * i:8 + 4 * i], "big") for i in range(ndim)]
    return np.frombuffer(b, dtype=np.uint8, offset=4 + 4 * ndim).reshape(dims)


def images(path):
    x = read_idx(path)
    return np.ascontiguousarray(x.reshape(x.shape[0], -1).astype(np.float32) / np.float32(255))
