"""Read and write dfstudy tensor streams from Python (formats/tensor-stream.md).

Used only by the fixture scripts in tests/ (run with Debian's /usr/bin/python3); the C code never
needs it. Records are (array, label, meta) with meta a dict of str -> str.
"""
import struct

import numpy as np

MAGIC = b"\x89TNS"
DTYPES = {1: np.uint8, 2: np.int8, 3: np.uint16, 4: np.int16, 5: np.int32, 6: np.int64,
          7: np.float16, 9: np.float32, 10: np.float64}
CODES = {np.dtype(v): k for k, v in DTYPES.items()}


def _pad8(n):
    return (n + 7) & ~7


def encode(array, label=-1, meta=None):
    a = np.ascontiguousarray(array)
    if a.dtype.newbyteorder("<") != a.dtype and a.dtype.byteorder not in ("=", "|", "<"):
        a = a.astype(a.dtype.newbyteorder("<"))
    code = CODES[np.dtype(a.dtype.name)]
    if a.ndim > 8:
        raise ValueError("rank above 8")
    m = "".join(f"{k}={v}\n" for k, v in (meta or {}).items()).encode("utf-8")
    payload = a.astype(a.dtype.newbyteorder("<"), copy=False).tobytes()
    dims = list(a.shape) + [0] * (8 - a.ndim)
    hdr = MAGIC + struct.pack("<HHBBHIQiI", 1, 128, code, a.ndim, 0, len(m), len(payload), label, 0)
    hdr += struct.pack("<8Q", *dims) + bytes(32)
    assert len(hdr) == 128
    return hdr + m + bytes(_pad8(len(m)) - len(m)) + payload + bytes(_pad8(len(payload)) - len(payload))


def write(path, records):
    """records: iterable of (array, label, meta)."""
    with open(path, "wb") as f:
        for array, label, meta in records:
            f.write(encode(array, label, meta))


def read(path):
    out = []
    with open(path, "rb") as f:
        data = f.read()
    pos = 0
    while pos < len(data):
        hdr = data[pos:pos + 128]
        if hdr[:4] != MAGIC:
            raise ValueError(f"{path}: bad magic at {pos}")
        _, _, code, rank, _, mlen, plen, label, _ = struct.unpack("<HHBBHIQiI", hdr[4:32])
        dims = struct.unpack("<8Q", hdr[32:96])[:rank]
        pos += 128
        meta = dict(line.split("=", 1) for line in data[pos:pos + mlen].decode().splitlines())
        pos += _pad8(mlen)
        arr = np.frombuffer(data[pos:pos + plen], dtype=np.dtype(DTYPES[code]).newbyteorder("<"))
        pos += _pad8(plen)
        out.append((arr.reshape(dims).copy(), label, meta))
    return out
