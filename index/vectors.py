"""The dense leg's FAISS index: chosen by size, built at ingest, searched with optional id filters."""

from __future__ import annotations

import numpy as np

# Exact search up to this many vectors (a flat scan of 50k × 384 floats takes a few ms on this
# machine); an HNSW graph above it. See BENCHMARKS.md for the measurements behind the numbers.
EXACT_MAX = 50_000
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80
HNSW_EF_SEARCH = 128


def build(vectors: np.ndarray, exact_max: int = EXACT_MAX):
    """A FAISS inner-product index over normalized vectors, and its description for the manifest."""
    import faiss

    n, d = vectors.shape
    if n <= exact_max:
        index = faiss.IndexFlatIP(d)
        spec = {"type": "flat", "metric": "inner_product"}
    else:
        index = faiss.IndexHNSWFlat(d, HNSW_M, faiss.METRIC_INNER_PRODUCT)
        index.hnsw.efConstruction = HNSW_EF_CONSTRUCTION
        index.hnsw.efSearch = HNSW_EF_SEARCH
        spec = {"type": "hnsw", "metric": "inner_product", "M": HNSW_M,
                "efConstruction": HNSW_EF_CONSTRUCTION, "efSearch": HNSW_EF_SEARCH}
    if n:
        index.add(np.ascontiguousarray(vectors, dtype=np.float32))
    return index, spec


def write(index, path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read(path, spec: dict):
    import faiss

    index = faiss.read_index(str(path))
    if spec.get("type") == "hnsw":
        index.hnsw.efSearch = int(spec.get("efSearch", HNSW_EF_SEARCH))
    return index


def search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) for one query vector; `allowed` restricts to those rows.

    FAISS pads with row -1 when fewer than k rows qualify: those are dropped here, never used.
    """
    import faiss

    k = min(k, index.ntotal if allowed is None else len(allowed))
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    params = None
    if allowed is not None:
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
