"""The dense leg's FAISS index: chosen by size, built at ingest, searched with optional row filters.

Up to EXACT_MAX vectors the index is exact (a flat inner-product scan). Above that it is an
inverted file over 8-bit scalar-quantized vectors (IVF + SQ8): a quarter of the memory of the
float vectors, built in seconds even at a million rows, with `nprobe` set so that recall@10
against exact search stays at or above 0.95. BENCHMARKS.md has the measurements behind every
number here (HNSW was tried too: its build took minutes per 100k vectors on this machine).

The search layer scores its candidates again, apart from these indexes: with the float vectors up to
CODES_ABOVE chunks (every real bank so far, whose scores are exact), and above it from one file of 8-bit
codes laid out question by question (QuestionCodes, at the end of this module).
"""

from __future__ import annotations

import math

import numpy as np

EXACT_MAX = 20_000  # a flat scan of 20k × 384 floats answers one query in a few ms here
IVF_TRAIN_PER_LIST = 40  # k-means training rows per inverted list (FAISS warns below 39)
IVF_PROBE_SHARE = 32  # probe 1/32 of the lists (1M chunks: 32 of 1024 sections, 64 of 2048 sentences) …
IVF_MIN_PROBES = 32  # … but at least 32 (100k: 16 of 256 gave recall@10 0.92; BENCHMARKS.md)
TRAIN_SEED = 1234


def ivf_lists(n: int) -> int:
    """Number of inverted lists for n vectors: the power of two nearest √n (1M → 1024, 100k → 256)."""
    return 2 ** max(4, round(math.log2(math.sqrt(max(n, 1)))))


def build(vectors: np.ndarray, exact_max: int = EXACT_MAX, codes: str = "sq8"):
    """A FAISS inner-product index over normalized vectors, and its description for the manifest.

    Args:
        vectors: (n, d) float32, rows normalized to length 1.
        exact_max: the largest n that gets an exact (flat) index.
        codes: "sq8" (384 bytes a vector) or "pq" (IVF_PQ_BYTES a vector: 4-bit PQ codes scanned with SIMD,
            FAISS's "fast scan") for the inverted lists.
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
            # 4 bits per sub-vector, two sub-vectors a byte: 96 of 4 dims at d 384. Scanning 3.5M sentences'
            # codes took 1.4 ms a query this way, 7.2 ms as 8-bit IVF + PQ of the same size (BENCHMARKS.md)
            parts = max(m for m in range(2, 2 * IVF_PQ_BYTES + 1, 2) if d % m == 0)
            index = faiss.IndexIVFPQFastScan(quantizer, d, nlist, parts, 4, faiss.METRIC_INNER_PRODUCT)
        else:
            index = faiss.IndexIVFScalarQuantizer(quantizer, d, nlist, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
        sample = np.sort(np.random.default_rng(TRAIN_SEED).choice(n, min(n, IVF_TRAIN_PER_LIST * nlist),
                                                                  replace=False))
        index.train(vectors[sample])
        index.nprobe = nprobe
        spec = {"type": "ivf_pq_fastscan" if codes == "pq" else "ivf_sq8", "metric": "inner_product",
                "nlist": nlist, "nprobe": nprobe}
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
    if str(spec.get("type")).startswith("ivf_"):
        faiss.extract_index_ivf(index).nprobe = int(spec["nprobe"])
    return index


def search(index, query: np.ndarray, k: int, allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Top-k (scores, rows) for one query vector; `allowed` restricts to those rows.

    FAISS pads with row -1 when fewer than k rows qualify: those are dropped here, never used.
    """
    import faiss

    k = min(k, index.ntotal if allowed is None else len(allowed))
    if k <= 0:
        return np.zeros(0, dtype=np.float32), np.zeros(0, dtype=np.int64)
    one_thread()
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


_blas_limited = False


def one_thread() -> None:
    """Run FAISS (OpenMP) and the BLAS behind NumPy's products on one thread, for the rest of the process.

    One query is never split across threads by FAISS (it parallelizes over queries), yet with two OpenMP threads
    a flat 10k search took 36 ms instead of 6 ms on this shared machine: their synchronization costs more than it
    saves. The same holds for OpenBLAS's matrix-vector products (the candidates' cosines): on a 1M bank, with
    another job on the second core, a whole query took 71-76 ms of CPU with two BLAS threads and 31-39 ms with
    one. Called by `search`, which every query runs first; builds that follow in the process run on one thread.
    """
    global _blas_limited
    import faiss

    if faiss.omp_get_max_threads() != 1:
        faiss.omp_set_num_threads(1)
    if not _blas_limited:
        from threadpoolctl import threadpool_limits

        threadpool_limits(1, user_api="blas")
        _blas_limited = True


def _ivf_probes(index, qualifying: int, k: int) -> int:
    """Lists to probe: the index's nprobe, more when a filter keeps few rows (in proportion) or when
    k asks for more rows than the probed lists hold on average (twice the rows k needs), at most all."""
    share = max(qualifying, 1) / max(index.ntotal, 1)
    for_filter = math.ceil(index.nprobe / share)
    for_k = math.ceil(2 * k * index.nlist / max(qualifying, 1))
    return int(min(index.nlist, max(index.nprobe, for_filter, for_k)))


# ---------------------------------------------------------------------------- dense fields of the search
# Besides the sections (sections.faiss, always written), the search reads three more dense fields: one vector per
# sentence, per question title and per question (the mean of its sentences, for related questions). Each gets a
# FAISS index of its own only above EXACT_MAX rows; at or below it the field is scanned exactly with NumPy, as
# before, so a small bank answers exactly as it always did. A fourth field, names (title, each alias), is never
# searched: it only scores questions that another field retrieved, so it needs no index at any size.
INDEXED_FIELDS = ("sentences", "titles", "related")
# The size rule for sentences: above PQ_ABOVE rows their index stores product-quantized codes (IVF_PQ_BYTES = 48
# bytes a vector) instead of SQ8 (384 bytes): at 1M chunks (3.5M sentences) 170 MB instead of 1.3 GB, a third of
# the process. These codes only choose candidates; the candidates are scored apart (QuestionCodes). Without
# any sentence index (tried: sentences scoring candidates only) recall@10 of the whole search fell to 0.92 at 1M.
# The PQ codes are 4-bit and scanned with FAISS's fast scan (SIMD lookups): 1.4 ms a query at 1M chunks instead of
# 7.2 ms for 8-bit PQ of the same 48 bytes, for whole-search recall@10 0.962 instead of 0.970 (BENCHMARKS.md).
PQ_ABOVE = {"sentences": 1_000_000}
IVF_PQ_BYTES = 48


def build_field(vectors: np.ndarray, exact_max: int = EXACT_MAX, pq_above: int | None = None):
    """(FAISS index or None, spec) for one dense field: None and {"type": "exact"} at or below exact_max rows;
    above it an IVF index, with PQ codes above pq_above rows and SQ8 codes below."""
    if len(vectors) <= exact_max:
        return None, {"type": "exact"}
    return build(vectors, exact_max=exact_max, codes="pq" if pq_above is not None and len(vectors) > pq_above else "sq8")


TOP_BLOCK = 256  # rows per block for top_rows's bound on large arrays


def top_rows(scores: np.ndarray, n: int) -> np.ndarray:
    """The same rows as `np.argsort(-scores, kind="stable")[:n]` without sorting every row.

    A full sort of a million chunk scores takes 0.2-1.4 s here; partitioning takes a few ms.
    Rows tied at the cut are taken lowest row first, as the stable sort takes them.
    """
    size = len(scores)
    if n >= size:
        return np.argsort(-scores, kind="stable")
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    blocks = size // TOP_BLOCK
    if size > EXACT_MAX and blocks > n:
        # The n-th largest of the blocks' maxima is at most the n-th largest score (n blocks each hold a score at
        # least that high), so the n best rows, ties included, are among the rows at or above it: a few hundred
        # of a million BM25 scores. A 1M partition took ~11 ms here (two a query); this takes 0.7 ms.
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

    Reading a row through the map faults its page in, and Linux maps the 16 pages around it with it (fault-around,
    which MADV_RANDOM does not switch off): 64 KB stayed resident per row read, 7.7 GB after 200 queries on a 1M
    bank, and the ~13k faults per query took most of its 67 ms. pread copies just the rows (runs of consecutive
    rows in one call: a question's sections, sentences and names are adjacent) into a buffer freed after the query.
    The kernel's page cache keeps the file's pages, shared and evictable, as for any file read. Arrays that are not
    a whole mapped file are indexed directly.

    Rows asked in ascending order (the search always asks so) are read straight into the array returned: a 1M
    query reads ~20 MB of rows, and a second buffer plus a reordering copy had taken 40% of this function's time."""
    import mmap
    import os

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
    fd = os.open(filename, os.O_RDONLY)
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
    the readahead around them (which made a 100k bank's search map every vector file whole within 55 queries)."""
    import mmap

    array = np.load(path, mmap_mode="r", allow_pickle=False)
    mapped = getattr(array, "_mmap", None)
    if mapped is not None and hasattr(mmap, "MADV_RANDOM"):
        mapped.madvise(mmap.MADV_RANDOM)
    return array


class DenseField:
    """One dense field: its float vectors (exact cosines; memory-mapped, read only at the rows asked for) and,
    above EXACT_MAX rows, the FAISS index that proposes candidates."""

    def __init__(self, vectors: np.ndarray, index=None):
        self.vectors = vectors
        self.index = index

    @classmethod
    def load(cls, folder, name: str, spec: dict | None) -> "DenseField":
        """`<name>.npy` (memory-mapped) and, when the spec says so, its index file `<name>.faiss`."""
        from pathlib import Path

        folder = Path(folder)
        vectors = load_mapped(folder / f"{name}.npy")
        index = None
        if spec and spec.get("type") not in (None, "exact"):
            index = read(folder / f"{name}.faiss", spec)
            if index.ntotal != len(vectors) or index.d != vectors.shape[1]:
                raise ValueError(f"{name}.faiss does not match {name}.npy")
        return cls(vectors, index)

    def __len__(self) -> int:
        return len(self.vectors)

    def query(self, q: np.ndarray) -> "FieldQuery":
        return FieldQuery(self, q)


class FieldQuery:
    """One query against one field. A field of at most EXACT_MAX rows takes every cosine once (one NumPy product,
    as the search always did, so its figures are unchanged); a larger one asks its FAISS index for candidates and
    takes cosines only of the rows asked for."""

    def __init__(self, field: DenseField, q: np.ndarray):
        self.field = field
        self.q = q
        self._all = None

    def _every(self) -> np.ndarray:
        if self._all is None:
            self._all = np.asarray(self.field.vectors @ self.q)
        return self._all

    def top(self, n: int, mask: np.ndarray | None = None) -> np.ndarray:
        """Rows of the n best cosines among rows where `mask` is True. Exact (no index): the n best of every row
        with masked-out rows at -inf, so when fewer than n rows are allowed some masked ones come along, as
        before (callers filter); indexed: only allowed rows, found approximately."""
        if self.field.index is None:
            scores = self._every()
            return top_rows(scores if mask is None else np.where(mask, scores, -np.inf), n)
        allowed = None if mask is None else np.flatnonzero(mask)
        return search(self.field.index, self.q, n, allowed)[1]

    def cosines(self, rows: np.ndarray) -> np.ndarray:
        """The exact cosines of these rows (float32)."""
        if self._all is not None or len(self.field) <= EXACT_MAX:
            return self._every()[rows]
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return read_rows(self.field.vectors, rows) @ self.q.astype(np.float32)


# ---------------------------------------------------------------------------- 8-bit codes for scoring candidates
# A 1M-chunk query scores every candidate question's sections, sentences and names: ~12k rows of three float files,
# ~20 MB read from the page cache in ~1,500 reads, written to a buffer and read again by the product: on this machine,
# whose memory moves a few GB/s, more than half of the query. Above CODES_ABOVE chunks the index also stores those
# three fields as 8-bit codes (FAISS's scalar quantizer, one range per dimension taken over every row, so nothing is
# clipped) in one file laid out question by question: a question's names, then its sections, then its sentences.
# Scoring a candidate question is then one read of ~10 KB instead of three of ~40 KB, decoded in blocks that stay in
# the CPU cache. A cosine from codes is within ~0.002 of the float one; BENCHMARKS.md has the whole search's
# recall@10 against the float search. At or below CODES_ABOVE chunks (every real bank so far) nothing changes.
CODES_ABOVE = EXACT_MAX
CODE_FIELDS = ("names", "sections", "sentences")  # a question's block of codes, in this order
_DECODE_ROWS = 256  # rows decoded at a time (384 KB of floats: stays in the L2 cache)


def _rank_in_owner(owner: np.ndarray, n_owners: int) -> np.ndarray:
    """Each row's position among its owner's rows (in row order)."""
    order = np.argsort(owner, kind="stable")
    start = np.searchsorted(owner[order], np.arange(n_owners + 1))
    rank = np.empty(len(owner), dtype=np.int64)
    rank[order] = np.arange(len(owner)) - start[owner[order]]
    return rank


def _code_owners(chunk_question: np.ndarray, sentence_chunk: np.ndarray, name_question: np.ndarray) -> dict:
    """{field: the question of each of its rows} for the fields in CODE_FIELDS."""
    return {"names": name_question, "sections": chunk_question, "sentences": chunk_question[sentence_chunk]}


def code_layout(chunk_question: np.ndarray, sentence_chunk: np.ndarray, name_question: np.ndarray,
                n_questions: int) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """Where each row of each field sits in the question-major codes file: (block_start, {field: offset in its
    question's block}); question q's block is rows block_start[q]:block_start[q + 1]. Ingest and the search both
    derive it from the row maps, so it is never stored."""
    owner = _code_owners(chunk_question, sentence_chunk, name_question)
    counts = {f: np.bincount(o, minlength=n_questions) for f, o in owner.items()}
    before = np.zeros(n_questions, dtype=np.int64)
    at = {}
    for f in CODE_FIELDS:
        at[f] = (before[owner[f]] + _rank_in_owner(owner[f], n_questions)).astype(np.int32)
        before = before + counts[f]
    return np.concatenate([[0], np.cumsum(before)]).astype(np.int64), at


class QuestionCodes:
    """The question-major 8-bit codes (`codes.sq8.npy`, memory-mapped; ranges in `codes.sq8range.npy`: per-dimension
    minimum and width) and their layout; scores every row of the candidate questions in one read per question."""

    def __init__(self, codes: np.ndarray, ranges: np.ndarray, block_start: np.ndarray, at: dict[str, np.ndarray]):
        import faiss

        self.codes = codes
        self.block_start = block_start
        self.at = at
        self.quantizer = faiss.ScalarQuantizer(codes.shape[1], faiss.ScalarQuantizer.QT_8bit)
        faiss.copy_array_to_vector(np.ascontiguousarray(ranges, dtype=np.float32).ravel(), self.quantizer.trained)

    @classmethod
    def load(cls, folder, spec: dict, chunk_question, sentence_chunk, name_question, n_questions) -> "QuestionCodes":
        from pathlib import Path

        if spec.get("type") != "sq8" or tuple(spec.get("fields", ())) != CODE_FIELDS:
            raise ValueError(f"codes of an unknown kind: {spec}")
        codes = load_mapped(Path(folder) / "codes.sq8.npy")
        ranges = np.load(Path(folder) / "codes.sq8range.npy", allow_pickle=False)
        block_start, at = code_layout(chunk_question, sentence_chunk, name_question, n_questions)
        if codes.dtype != np.uint8 or ranges.shape != (2, codes.shape[1]) or len(codes) != block_start[-1]:
            raise ValueError("codes.sq8.npy does not match the chunks, sentences and names")
        return cls(codes, ranges, block_start, at)

    def cosines(self, questions: np.ndarray, q: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(float32 cosine of the query with every row of these questions' blocks, each block's first position in
        it). questions ascending, as the search asks."""
        import faiss

        starts, ends = self.block_start[questions], self.block_start[questions + 1]
        base = np.cumsum(ends - starts) - (ends - starts)
        codes = read_rows(self.codes, ranges(starts, ends))
        total = len(codes)
        out = np.empty(total, dtype=np.float32)
        buffer = np.empty((min(_DECODE_ROWS, max(total, 1)), codes.shape[1]), dtype=np.float32)
        q = np.ascontiguousarray(q, dtype=np.float32)
        for start in range(0, total, _DECODE_ROWS):
            block = codes[start:start + _DECODE_ROWS]
            self.quantizer.decode_c(faiss.swig_ptr(block), faiss.swig_ptr(buffer), len(block))
            np.dot(buffer[:len(block)], q, out=out[start:start + len(block)])
        return out, base


def write_question_codes(folder, files: dict[str, np.ndarray], chunk_question, sentence_chunk, name_question,
                         n_questions: int, block: int = 200_000) -> dict:
    """Write codes.sq8.npy (question-major, see code_layout) and codes.sq8range.npy from the float vectors of the
    fields in CODE_FIELDS (`files`: field → array, memory-mapped ones read block by block); the manifest's entry."""
    import faiss
    from pathlib import Path

    d = files["sections"].shape[1]
    low = np.full(d, np.inf, dtype=np.float32)
    high = np.full(d, -np.inf, dtype=np.float32)
    for f in CODE_FIELDS:
        for start in range(0, len(files[f]), block):
            part = np.asarray(files[f][start:start + block], dtype=np.float32)
            low, high = np.minimum(low, part.min(axis=0)), np.maximum(high, part.max(axis=0))
    ranges = np.stack([low, np.maximum(high - low, 1e-12)]).astype(np.float32)
    quantizer = faiss.ScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit)
    faiss.copy_array_to_vector(ranges.ravel(), quantizer.trained)
    block_start, at = code_layout(chunk_question, sentence_chunk, name_question, n_questions)
    owner = _code_owners(chunk_question, sentence_chunk, name_question)
    out = np.lib.format.open_memmap(Path(folder) / "codes.sq8.npy", mode="w+", dtype=np.uint8,
                                    shape=(int(block_start[-1]), d))
    for f in CODE_FIELDS:
        for start in range(0, len(files[f]), block):
            rows = block_start[owner[f][start:start + block]] + at[f][start:start + block]
            out[rows] = quantizer.compute_codes(np.ascontiguousarray(files[f][start:start + block], dtype=np.float32))
    out.flush()
    del out
    np.save(Path(folder) / "codes.sq8range.npy", ranges, allow_pickle=False)
    return {"type": "sq8", "fields": list(CODE_FIELDS), "rows": int(block_start[-1])}
