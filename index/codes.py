"""8-bit codes that score a large bank's candidates, laid out question by question.

A query on a large bank scores every candidate question's sections, sentences and names: reading those rows
from three float files, a few rows at a time, was more than half of the query (BENCHMARKS.md). Above
CODES_ABOVE chunks the index also stores those three fields as 8-bit codes (FAISS's scalar quantizer, one
range per dimension taken over every row, so nothing is clipped) in one file laid out question by question:
a question's names, then its sections, then its sentences. Scoring a candidate question is then one short
read, decoded in blocks that stay in the CPU cache. A cosine from codes is within a few thousandths of the
float one. At or below CODES_ABOVE chunks no codes are written and the candidates are scored with floats.
format.py names the files (write_codes, read_codes); this module owns their layout and their arithmetic.
"""

from __future__ import annotations

import numpy as np

from . import ann
from .rows import ranges, read_rows

CODES_ABOVE = ann.EXACT_MAX
CODE_FIELDS = ("names", "sections", "sentences")  # a question's block of codes, in this order
_DECODE_ROWS = 256  # rows decoded at a time: the float buffer stays in the L2 cache


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
    """The question-major 8-bit codes (memory-mapped), their per-dimension ranges (minimum and width) and their
    layout; scores every row of the candidate questions in one read per question."""

    def __init__(self, codes: np.ndarray, ranges: np.ndarray, block_start: np.ndarray, at: dict[str, np.ndarray]):
        import faiss

        self.codes = codes
        self.block_start = block_start
        self.at = at
        self.quantizer = faiss.ScalarQuantizer(codes.shape[1], faiss.ScalarQuantizer.QT_8bit)
        faiss.copy_array_to_vector(np.ascontiguousarray(ranges, dtype=np.float32).ravel(), self.quantizer.trained)

    @classmethod
    def from_arrays(cls, codes: np.ndarray, ranges: np.ndarray, spec: dict, chunk_question, sentence_chunk,
                    name_question, n_questions) -> "QuestionCodes":
        """The codes and ranges as stored, checked against the manifest's spec and the row maps (ValueError)."""
        if spec.get("type") != "sq8" or tuple(spec.get("fields", ())) != CODE_FIELDS:
            raise ValueError(f"holds codes of an unknown kind: {spec}")
        block_start, at = code_layout(chunk_question, sentence_chunk, name_question, n_questions)
        if codes.dtype != np.uint8 or ranges.shape != (2, codes.shape[1]) or len(codes) != block_start[-1]:
            raise ValueError("does not match the chunks, sentences and names")
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


def write_question_codes(codes_path, ranges_path, files: dict[str, np.ndarray], chunk_question, sentence_chunk,
                         name_question, n_questions: int, block: int = 200_000) -> dict:
    """Write the question-major codes (see code_layout) to `codes_path` and their ranges to `ranges_path` from the
    float vectors of the fields in CODE_FIELDS (`files`: field → array, memory-mapped ones read block by block);
    returns the manifest's entry."""
    import faiss

    d = files["sections"].shape[1]
    low = np.full(d, np.inf, dtype=np.float32)
    high = np.full(d, -np.inf, dtype=np.float32)
    for f in CODE_FIELDS:
        for start in range(0, len(files[f]), block):
            part = np.asarray(files[f][start:start + block], dtype=np.float32)
            low, high = np.minimum(low, part.min(axis=0)), np.maximum(high, part.max(axis=0))
    code_ranges = np.stack([low, np.maximum(high - low, 1e-12)]).astype(np.float32)
    quantizer = faiss.ScalarQuantizer(d, faiss.ScalarQuantizer.QT_8bit)
    faiss.copy_array_to_vector(code_ranges.ravel(), quantizer.trained)
    block_start, at = code_layout(chunk_question, sentence_chunk, name_question, n_questions)
    owner = _code_owners(chunk_question, sentence_chunk, name_question)
    out = np.lib.format.open_memmap(codes_path, mode="w+", dtype=np.uint8, shape=(int(block_start[-1]), d))
    for f in CODE_FIELDS:
        for start in range(0, len(files[f]), block):
            rows = block_start[owner[f][start:start + block]] + at[f][start:start + block]
            out[rows] = quantizer.compute_codes(np.ascontiguousarray(files[f][start:start + block], dtype=np.float32))
    out.flush()
    del out
    np.save(ranges_path, code_ranges, allow_pickle=False)
    return {"type": "sq8", "fields": list(CODE_FIELDS), "rows": int(block_start[-1])}
