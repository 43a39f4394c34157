"""The lexical leg: one tokenizer for documents and queries, BM25 (bm25s) over token lists.

The same `Analyzer` must tokenize the corpus at ingest and the query at search time, so its
settings are recorded in the manifest and rebuilt from there (`Analyzer.from_config`).
"""

from __future__ import annotations

import difflib
import json
import os
import re
import sys
import threading
import unicodedata
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

_WORD = re.compile(r"[0-9a-z]+(?:'[a-z]+)?")

# A compact English stopword list (function words only). Domain words such as "model",
# "data" or "learning" stay searchable: BM25's idf already weighs them down.
STOPWORDS_EN = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself him
himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
our ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves s t don doesn isn aren wasn weren
""".split())


def _bm25s():
    """bm25s, imported without two slow dependencies this code never uses (their cost: BENCHMARKS.md).

    At import, bm25s loads tqdm for progress bars (tqdm reads package metadata; we never show
    bars) and scipy.sparse to assemble its matrix (we ask for its NumPy builder instead, which
    gives the same arrays). Both are skipped only while bm25s itself is imported; anything
    imported later can still use them.
    """
    if "bm25s" in sys.modules:
        return sys.modules["bm25s"]
    tqdm_setting = os.environ.get("DISABLE_TQDM")
    block_scipy = "scipy.sparse" not in sys.modules
    os.environ["DISABLE_TQDM"] = "1"
    if block_scipy:
        sys.modules["scipy.sparse"] = None  # makes bm25s's optional `import scipy.sparse` fail fast
    try:
        import bm25s
    finally:
        if tqdm_setting is None:
            os.environ.pop("DISABLE_TQDM", None)
        else:
            os.environ["DISABLE_TQDM"] = tqdm_setting
        if block_scipy and sys.modules.get("scipy.sparse", 0) is None:
            del sys.modules["scipy.sparse"]
    return bm25s


def _slips(a: str, b: str, limit: int) -> int:
    """Optimal string alignment distance (edits with adjacent swaps), or limit + 1 when it is larger."""
    if abs(len(a) - len(b)) > limit:
        return limit + 1
    prev2, prev = None, list(range(len(b) + 1))
    for i in range(1, len(a) + 1):
        cur = [i] + [0] * len(b)
        for j in range(1, len(b) + 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (a[i - 1] != b[j - 1]))
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                cur[j] = min(cur[j], prev2[j - 2] + 1)
        prev2, prev = prev, cur
    return prev[len(b)]


@dataclass
class Analyzer:
    """Lowercase, split into words, drop stopwords, stem (Snowball English via PyStemmer)."""

    stemmer: str | None = "english"
    stopwords: bool = True
    # PyStemmer's Stemmer objects are not thread-safe: one per thread.
    _local: threading.local = field(default_factory=threading.local, repr=False, compare=False)

    def config(self) -> dict:
        return {"stemmer": self.stemmer, "stopwords": self.stopwords}

    @classmethod
    def from_config(cls, cfg: dict) -> "Analyzer":
        return cls(stemmer=cfg.get("stemmer"), stopwords=bool(cfg.get("stopwords", True)))

    def words(self, text: str) -> list[str]:
        """Lowercased surface words, stopwords removed (used for typo repair and highlighting)."""
        text = unicodedata.normalize("NFKC", text).lower().replace("\u2019", "'")
        out = []
        for w in _WORD.findall(text):
            w = w.split("'")[0] if w.endswith("'s") else w
            if self.stopwords and w in STOPWORDS_EN:
                continue
            out.append(w)
        return out

    def stems(self, words: list[str]) -> list[str]:
        if not self.stemmer:
            return list(words)
        stem = getattr(self._local, "stemmer", None)
        if stem is None:
            import Stemmer  # PyStemmer

            stem = self._local.stemmer = Stemmer.Stemmer(self.stemmer)
        return stem.stemWords(words)

    def tokens(self, text: str) -> list[str]:
        return self.stems(self.words(text))


class LexicalIndex:
    """BM25 over one field (a list of documents), plus the surface vocabulary for typo repair."""

    def __init__(self, bm25, vocabulary: list[str]):
        self._bm25 = bm25
        self.vocabulary = vocabulary
        self._vocab_set = frozenset(vocabulary)
        self._by_first = {}
        for w in vocabulary:
            self._by_first.setdefault(w[0], []).append(w)

    @classmethod
    def build(cls, analyzer: Analyzer, documents: list[str]) -> "LexicalIndex":
        # Each distinct word is stemmed once and documents share the stem strings: the same tokens
        # as stemming document by document, without keeping every document's word list alive
        # (at a million sections that is gigabytes).
        stem_of: dict[str, str] = {}
        tokens = []
        for document in documents:
            words = analyzer.words(document)
            new = [w for w in dict.fromkeys(words) if w not in stem_of]
            if new:
                stem_of.update(zip(new, analyzer.stems(new)))
            tokens.append([stem_of[w] for w in words] or [""])
        bm25 = _bm25s().BM25(csc_backend="numpy")
        bm25.index(tokens, show_progress=False)
        return cls(bm25, sorted(stem_of))

    def save(self, folder: Path) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self._bm25.save(str(folder), allow_pickle=False)
        (folder / "words.json").write_text(json.dumps(self.vocabulary), encoding="utf-8")

    @classmethod
    def load(cls, folder: Path) -> "LexicalIndex":
        bm25 = _bm25s().BM25.load(str(folder), allow_pickle=False, load_corpus=False)
        vocabulary = json.loads((folder / "words.json").read_text(encoding="utf-8"))
        return cls(bm25, vocabulary)

    @property
    def num_docs(self) -> int:
        return int(self._bm25.scores["num_docs"])

    def scores(self, stems: list[str]) -> np.ndarray:
        """BM25 score of every document for these query stems (zeros when none is known)."""
        ids = self._bm25.get_tokens_ids(stems)
        if not ids:
            return np.zeros(self.num_docs, dtype=np.float32)
        return np.asarray(self._bm25.get_scores_from_ids(ids), dtype=np.float32)

    def postings(self, stem: str) -> np.ndarray:
        """The documents that hold this stem, ascending: a view of bm25s's CSC matrix (one column per stem), empty
        for a stem the field does not know."""
        row = self._bm25.vocab_dict.get(stem)
        indptr, indices = self._bm25.scores["indptr"], self._bm25.scores["indices"]
        if row is None or row + 1 >= len(indptr):
            return indices[:0]
        return indices[indptr[row]:indptr[row + 1]]

    def document_frequency(self, stem: str) -> int:
        """How many documents hold this stem (0 for a stem the field does not know)."""
        return len(self.postings(stem))

    def holds(self, stem: str, documents: np.ndarray) -> np.ndarray:
        """Per document of `documents`: True when it holds this stem. A binary search in the stem's postings, so
        the cost follows `documents`, not how common the stem is."""
        found = self.postings(stem)
        if len(found) == 0:
            return np.zeros(len(documents), dtype=bool)
        documents = np.asarray(documents).astype(found.dtype, copy=False)
        at = np.minimum(np.searchsorted(found, documents), len(found) - 1)
        return found[at] == documents

    def knows(self, word: str, stem: str | None = None) -> bool:
        """True when the field holds this word as written, or its stem."""
        return word in self._vocab_set or bool(stem and stem in self._bm25.vocab_dict)

    def repair(self, word: str, stem: str | None = None) -> str | None:
        """The closest vocabulary word for a probable typo, or None.

        Only a word of 5+ letters that is unknown both as written and as a stem (`stem`: its stem,
        so "transformers" is left alone when "transformer" is indexed) is repaired, to a word with
        the same first letter one typing slip away (a letter added, dropped, changed or two swapped;
        two slips for words of 9+ letters). "atention" → "attention"; "weather" stays "weather".
        """
        if len(word) < 5 or self.knows(word, stem) or word.isdigit():
            return None
        pool = self._by_first.get(word[0], [])
        limit = 1 if len(word) < 9 else 2
        best = None
        for cand in difflib.get_close_matches(word, pool, n=8, cutoff=0.75):
            d = _slips(word, cand, limit)
            if d <= limit and (best is None or d < best[0]):
                best = (d, cand)
        return best[1] if best else None


def idf(document_frequency: int, num_docs: int) -> float:
    """The inverse document frequency the no-match features and query coverage weigh a stem by (finite for a stem
    no document holds)."""
    return float(np.log((num_docs + 1) / (document_frequency + 0.5)))
