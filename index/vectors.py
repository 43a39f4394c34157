"""The search's dense fields: float vectors read at the rows a query needs, and the FAISS index that proposes
candidates when a field is large.

The search reads five dense fields: sections (one vector per chunk), sentences (each alone), titles (title +
aliases), names (a question's title and each alias alone) and, for related questions, each question's mean
sentence vector. A field of at most ann.EXACT_MAX rows is scanned exactly with NumPy; a larger one asks its
own FAISS index (ann.py) for candidates, and only the candidates' rows are read and scored exactly.
format.py loads the fields from a version folder.
"""

from __future__ import annotations

import numpy as np

from . import ann
from .rows import read_rows, top_rows


class DenseField:
    """One dense field: its float vectors (exact cosines; memory-mapped, read only at the rows asked for) and,
    above ann.EXACT_MAX rows, the FAISS index that proposes candidates (None: scanned exactly)."""

    def __init__(self, vectors: np.ndarray, index=None):
        self.vectors = vectors
        self.index = index

    def __len__(self) -> int:
        return len(self.vectors)

    def query(self, q: np.ndarray) -> "FieldQuery":
        return FieldQuery(self, q)


class FieldQuery:
    """One query against one field. A field of at most ann.EXACT_MAX rows takes every cosine once (one NumPy
    product); a larger one asks its FAISS index for candidates and takes cosines only of the rows asked for."""

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
        with masked-out rows at -inf, so when fewer than n rows are allowed some masked ones come along (callers
        filter); indexed: only allowed rows, found approximately."""
        if self.field.index is None:
            scores = self._every()
            return top_rows(scores if mask is None else np.where(mask, scores, -np.inf), n)
        allowed = None if mask is None else np.flatnonzero(mask)
        return ann.search(self.field.index, self.q, n, allowed)[1]

    def cosines(self, rows: np.ndarray) -> np.ndarray:
        """The exact cosines of these rows (float32)."""
        if self._all is not None or len(self.field) <= ann.EXACT_MAX:
            return self._every()[rows]
        if len(rows) == 0:
            return np.zeros(0, dtype=np.float32)
        return read_rows(self.field.vectors, rows) @ self.q.astype(np.float32)
