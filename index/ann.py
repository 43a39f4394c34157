"""FAISS indexes for the dense fields: chosen by size at ingest, searched with optional row filters.

Up to EXACT_MAX vectors an index is exact (a flat inner-product scan). Above that it is an inverted
file (IVF) over 8-bit scalar-quantized vectors (SQ8), a quarter of the memory of the float vectors and
quick to build even at a million rows, with `nprobe` set so that recall@10 against exact search stays
at or above 0.95; the sentences of a very large bank get 4-bit PQ codes scanned with SIMD instead.
These indexes only propose candidates: the search scores them again from the float vectors or the
8-bit codes (codes.py). BENCHMARKS.md has the measurements behind each choice (HNSW was tried too and
rejected for its build time).
"""

from __future__ import annotations

import math

import numpy as np

EXACT_MAX = 20_000  # a flat scan up to here takes a few ms a query
IVF_TRAIN_PER_LIST = 40  # k-means training rows per inverted list (FAISS warns below 39)
IVF_PROBE_SHARE = 32  # probe 1/32 of the lists …
IVF_MIN_PROBES = 32  # … but at least 32: fewer lost too much recall at 100k (BENCHMARKS.md)
TRAIN_SEED = 1234
# Besides the sections (whose index is always written), these dense fields get an index of their own above
# EXACT_MAX rows; at or below it they are scanned exactly with NumPy. Names are never searched (they only score
# questions that another field retrieved), so they need no index at any size.
INDEXED_FIELDS = ("sentences", "titles", "related")
# Above this many rows a field's index stores 4-bit PQ codes of IVF_PQ_BYTES a vector instead of SQ8 (one byte a
# dimension): the sentences of a very large bank would otherwise be a third of the process's memory. The codes
# only choose candidates; without a sentence index at all the whole search lost too much recall (BENCHMARKS.md).
PQ_ABOVE = {"sentences": 1_000_000}
IVF_PQ_BYTES = 48
# Vectors of more dimensions than this get 6-bit scalar codes in the inverted lists instead of a byte a dimension:
# at 768 dimensions (all-mpnet-base-v2) SQ8 lists would take a 1M bank's search process past its 3 GB target.
SQ8_MAX_DIMENSION = 384


def ivf_lists(n: int) -> int:
    """Number of inverted lists for n vectors: the power of two nearest √n (1M → 1024, 100k → 256)."""
    return 2 ** max(4, round(math.log2(math.sqrt(max(n, 1)))))


def build(vectors: np.ndarray, exact_max: int = EXACT_MAX, codes: str = "sq8"):
    """A FAISS inner-product index over normalized vectors, and its description for the manifest.

    Args:
        vectors: (n, d) float32, rows normalized to length 1.
        exact_max: the largest n that gets an exact (flat) index.
        codes: "sq8" (a byte a dimension; 6 bits above SQ8_MAX_DIMENSION dimensions) or "pq" (IVF_PQ_BYTES a
            vector: 4-bit PQ codes scanned with SIMD, FAISS's "fast scan") for the inverted lists.
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
        if codes == "pq":
            # 4 bits per sub-vector, two sub-vectors a byte; fast scan beat 8-bit PQ of the same size (BENCHMARKS.md)
            parts = max(m for m in range(2, 2 * IVF_PQ_BYTES + 1, 2) if d % m == 0)
            index = faiss.IndexIVFPQFastScan(quantizer, d, nlist, parts, 4, faiss.METRIC_INNER_PRODUCT)
        else:
            bits = 8 if d <= SQ8_MAX_DIMENSION else 6
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, getattr(faiss.ScalarQuantizer, f"QT_{bits}bit"),
                                                  faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(np.random.default_rng(TRAIN_SEED).choice(n, min(n, IVF_TRAIN_PER_LIST * nlist),
                                                                  replace=False))
        index.train(vectors[sample])
        index.nprobe = nprobe
        spec = {"type": "ivf_pq_fastscan" if codes == "pq" else f"ivf_sq{bits}", "metric": "inner_product",
                "nlist": nlist, "nprobe": nprobe}
    _add(index, vectors)
    return index, spec


def _add(index, vectors: np.ndarray) -> None:
    """Add rows in slices, so FAISS's temporary buffers stay small for large banks (and a memory-mapped file is
    read a slice at a time)."""
    for start in range(0, len(vectors), 100_000):
        index.add(np.ascontiguousarray(vectors[start:start + 100_000], dtype=np.float32))


def flat(vectors: np.ndarray):
    """An exact (flat inner-product) index over vectors of any size: the reference for recall measurements."""
    import faiss

    index = faiss.IndexFlatIP(vectors.shape[1])
    _add(index, vectors)
    return index


def build_field(vectors: np.ndarray, exact_max: int = EXACT_MAX, pq_above: int | None = None):
    """(FAISS index or None, spec) for one dense field: None and {"type": "exact"} at or below exact_max rows;
    above it an IVF index, with PQ codes above pq_above rows and SQ8 codes below."""
    if len(vectors) <= exact_max:
        return None, {"type": "exact"}
    return build(vectors, exact_max=exact_max, codes="pq" if pq_above is not None and len(vectors) > pq_above else "sq8")


def write(index, path) -> None:
    import faiss

    faiss.write_index(index, str(path))


def read(path, spec: dict):
    import faiss

    index = faiss.read_index(str(path))
    if str(spec.get("type")).startswith("ivf_"):
        faiss.extract_index_ivf(index).nprobe = int(spec["nprobe"])
    return index


def search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) for one query vector; `allowed` restricts to those rows.

    FAISS pads with row -1 when fewer than k rows qualify: those are dropped here, never used. Callers that
    answer a query run this inside `threads.single_thread()`.
    """
    import faiss

    k = min(k, index.ntotal if allowed is None else len(allowed))
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    params = None
    if isinstance(index, faiss.IndexIVF):
        qualifying = index.ntotal if allowed is None else len(allowed)
        nprobe = _ivf_probes(index, qualifying, k)
        selector = None if allowed is None else faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
        if selector is not None or nprobe != index.nprobe:
            params = faiss.SearchParametersIVF(sel=selector, nprobe=nprobe)
    elif allowed is not None:
        params = faiss.SearchParameters(sel=faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64)))
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
