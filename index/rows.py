"""Rows of arrays: reading the rows a query needs from memory-mapped vector files (pread), and the
row arithmetic of the search (top rows, runs of rows, means per owner)."""

from __future__ import annotations

import mmap
import os

import numpy as np

from . import ann

TOP_BLOCK = 256  # rows per block for top_rows's bound on large arrays


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """The same rows as `np.argsort(-scores, kind="stable")[:n]` without sorting every row.

    Rows tied at the cut are taken lowest row first, as the stable sort takes them.
    """
    size = len(scores)
    if n >= size:
        return np.argsort(-scores, kind="stable")
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    blocks = size // TOP_BLOCK
    if size > ann.EXACT_MAX and blocks > n:
        # The n-th largest of the blocks' maxima is at most the n-th largest score (n blocks each hold a score at
        # least that high), so the n best rows, ties included, are among the rows at or above it: a small share of
        # a large bank's scores, partitioned much faster than all of them.
        maxima = scores[:blocks * TOP_BLOCK].reshape(blocks, TOP_BLOCK).max(axis=1)
        near = np.flatnonzero(scores >= np.partition(maxima, blocks - n)[blocks - n])
        if len(near) < size // 2:
            return near[top_rows(scores[near], n)]
    cut = np.partition(scores, size - n)[size - n]  # the n-th largest score
    above = np.flatnonzero(scores > cut)
    tied = np.flatnonzero(scores == cut)[:n - len(above)]
    rows = np.concatenate([above, tied])
    return rows[np.argsort(-scores[rows], kind="stable")]


def mean_rows(vectors: np.ndarray, owner: np.ndarray, n: int) -> np.ndarray:
    """(n, d) float32: the normalized mean of the rows each owner holds (a question's sentences → its vector)."""
    out = np.zeros((n, vectors.shape[1]), dtype=np.float32)
    for start in range(0, len(vectors), 500_000):  # in slices: a memory-mapped field is read once, not held
        np.add.at(out, owner[start:start + 500_000], np.asarray(vectors[start:start + 500_000]))
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


def ranges(starts: np.ndarray, ends: np.ndarray) -> np.ndarray:
    """The concatenation of arange(start, end) for each pair, without a Python loop."""
    lengths = ends - starts
    total = int(lengths.sum())
    if total == 0:
        return np.zeros(0, dtype=np.int64)
    offsets = np.repeat(starts - np.concatenate([[0], np.cumsum(lengths)[:-1]]), lengths)
    return np.arange(total, dtype=np.int64) + offsets


def read_rows(vectors: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """float32 rows (uint8 for a file of codes) of a memory-mapped vector file, in the order asked, read with pread
    instead of through the map.

    Reading a row through the map faults its page in, and Linux maps the pages around it with it (fault-around,
    which MADV_RANDOM does not switch off): a large bank's process filled with file pages and page faults took
    most of a query (BENCHMARKS.md). pread copies just the rows (runs of consecutive rows in one call: a
    question's sections, sentences and names are adjacent) into a buffer freed after the query. The kernel's page
    cache keeps the file's pages, shared and evictable, as for any file read. Arrays that are not a whole mapped
    file are indexed directly.

    Rows asked in ascending order (the search always asks so) are read straight into the array returned, without
    a second buffer and a reordering copy.

    A version folder removed since the array was mapped (an index opened before two later builds: the writer
    keeps the newest two) is read through its map, which stays valid after the file is gone."""
    rows = np.asarray(rows, dtype=np.int64)
    filename = getattr(vectors, "filename", None)
    # only a whole mapped file (np.load's memmap, whose buffer is the map itself), not a slice or view of one
    dtype = np.uint8 if vectors.dtype == np.uint8 else np.float32  # codes stay bytes; vectors are float32
    if (filename is None or not isinstance(vectors.base, mmap.mmap) or not vectors.flags.c_contiguous
            or len(rows) == 0):
        return np.asarray(vectors[rows], dtype=dtype)
    ascending = bool(np.all(rows[1:] > rows[:-1]))
    order = None if ascending else np.argsort(rows, kind="stable")
    wanted = rows if ascending else rows[order]
    starts = np.flatnonzero(np.diff(wanted, prepend=-2) != 1)  # first position of each run of consecutive rows
    ends = np.append(starts[1:], len(wanted))
    row_bytes = vectors.shape[1] * vectors.dtype.itemsize
    read = np.empty((len(wanted), vectors.shape[1]), dtype=vectors.dtype)
    view = memoryview(read.reshape(-1)).cast("B")
    offsets = (vectors.offset + wanted[starts] * row_bytes).tolist()
    try:
        fd = os.open(filename, os.O_RDONLY)
    except FileNotFoundError:
        return np.asarray(vectors[rows], dtype=dtype)
    try:
        for a, b, at in zip((starts * row_bytes).tolist(), (ends * row_bytes).tolist(), offsets):
            if os.preadv(fd, [view[a:b]], at) != b - a:
                raise OSError(f"{filename}: short read at byte {at}")
    finally:
        os.close(fd)
    if ascending:
        return read.astype(dtype, copy=False)
    out = np.empty((len(rows), vectors.shape[1]), dtype=dtype)
    out[order] = read
    return out


def load_mapped(path) -> np.ndarray:
    """A .npy file memory-mapped read-only for random row access: the kernel reads the pages a query touches, not
    the readahead around them (which would soon map a large bank's vector files whole)."""
    array = np.load(path, mmap_mode="r", allow_pickle=False)
    mapped = getattr(array, "_mmap", None)
    if mapped is not None and hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    return array
