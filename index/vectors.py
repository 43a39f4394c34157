"""The dense leg's FAISS index: chosen by size, built at ingest, searched with optional row filters.

Up to EXACT_MAX vectors the index is exact (a flat inner-product scan). Above that it is an
inverted file over 8-bit scalar-quantized vectors (IVF + SQ8): a quarter of the memory of the
float vectors, built in seconds even at a million rows, with `nprobe` set so that recall@10
against exact search stays at or above 0.95. BENCHMARKS.md has the measurements behind every
number here (HNSW was tried too: its build took minutes per 100k vectors on this machine).

The search layer re-scores its candidates with the exact float vectors, so quantization only
decides which rows become candidates, never their final scores.
"""

from __future__ import annotations

import math

import numpy as np

EXACT_MAX = 20_000  # a flat scan of 20k × 384 floats answers one query in a few ms here
IVF_TRAIN_PER_LIST = 40  # k-means training rows per inverted list (FAISS warns below 39)
IVF_PROBE_SHARE = 16  # probe 1/16 of the lists (1M: 64 of 1024, recall@10 0.98) …
IVF_MIN_PROBES = 32  # … but at least 32 (100k: 16 of 256 gave recall@10 0.92; BENCHMARKS.md)
TRAIN_SEED = 1234


def ivf_lists(n: int) -> int:
    """Number of inverted lists for n vectors: the power of two nearest √n (1M → 1024, 100k → 256)."""
    return 2 ** max(4, round(math.log2(math.sqrt(max(n, 1)))))


def build(vectors: np.ndarray, exact_max: int = EXACT_MAX):
    """A FAISS inner-product index over normalized vectors, and its description for the manifest.

    Args:
        vectors: (n, d) float32, rows normalized to length 1.
        exact_max: the largest n that gets an exact (flat) index.
    Returns:
        (faiss index, spec dict); the spec is stored in the manifest and passed back to `read`.
    """
    import faiss

    vectors = np.ascontiguousarray(vectors, dtype=np.float32)
    n, d = vectors.shape
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
        spec = {"type": "flat", "metric": "inner_product"}
    else:
        nlist = ivf_lists(n)
        nprobe = min(nlist, max(IVF_MIN_PROBES, nlist // IVF_PROBE_SHARE))
        quantizer = faiss.IndexFlatIP(d)
        index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                              faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(np.random.default_rng(TRAIN_SEED).choice(n, min(n, IVF_TRAIN_PER_LIST * nlist),
                                                                  replace=False))
        index.train(vectors[sample])
        index.nprobe = nprobe
        spec = {"type": "ivf_sq8", "metric": "inner_product", "nlist": nlist, "nprobe": nprobe}
    # add in slices so FAISS's temporary buffers stay small for large banks
    for start in range(0, n, 100_000):
        index.add(vectors[start:start + 100_000])
    return index, spec


def write(index, path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read(path, spec: dict):
    import faiss

    index = faiss.read_index(str(path))
    if spec.get("type") == "ivf_sq8":
        faiss.extract_index_ivf(index).nprobe = int(spec["nprobe"])
    elif spec.get("type") == "hnsw":  # format-1 indexes built before IVF replaced HNSW
        index.hnsw.efSearch = int(spec.get("efSearch", 128))
    return index


def search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) for one query vector; `allowed` restricts to those rows.

    FAISS pads with row -1 when fewer than k rows qualify: those are dropped here, never used.
    """
    import faiss

    k = min(k, index.ntotal if allowed is None else len(allowed))
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    # One query is never split across threads by FAISS (it parallelizes over queries), yet with two
    # OpenMP threads a flat 10k search took 36 ms instead of 6 ms on this shared machine: their
    # synchronization costs more than it saves. Process-wide; builds that follow run on one thread.
    if faiss.omp_get_max_threads() != 1:
        faiss.omp_set_num_threads(1)
    params = None
    if isinstance(index, faiss.IndexIVF):
        qualifying = index.ntotal if allowed is None else len(allowed)
        nprobe = _ivf_probes(index, qualifying, k)
        selector = None if allowed is None else faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if selector is not None or nprobe != index.nprobe:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
    elif allowed is not None:
        selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if isinstance(index, faiss.IndexHNSW):
            params = faiss.SearchParametersHNSW(sel=selector, efSearch=max(index.hnsw.efSearch, k))
        else:
            params = faiss.SearchParameters(sel=selector)
    elif isinstance(index, faiss.IndexHNSW) and k > index.hnsw.efSearch:
        params = faiss.SearchParametersHNSW(efSearch=k)
    scores, rows = index.search(np.ascontiguousarray(query.reshape(1, -1), dtype=np.float32), k, params=params)
    keep = rows[0] >= 0
    return scores[0][keep], rows[0][keep]


def _ivf_probes(index, qualifying: int, k: int) -> int:
    """Lists to probe: the index's nprobe, more when a filter keeps few rows (in proportion) or when
    k asks for more rows than the probed lists hold on average (twice the rows k needs), at most all."""
    share = max(qualifying, 1) / max(index.ntotal, 1)
    for_filter = math.ceil(index.nprobe / share)
    for_k = math.ceil(2 * k * index.nlist / max(qualifying, 1))
    return int(min(index.nlist, max(index.nprobe, for_filter, for_k)))
