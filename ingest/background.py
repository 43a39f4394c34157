"""The background topics: subjects outside ML-interview content, for the no-close-match check.

A query about git, SQL or Kubernetes still has a nearest question in any bank, and on a larger bank that
nearest question scores as high as a weak real match does. What tells the two apart is a comparison: is the
query closer to a topic this bank does not cover than to anything it does? `background.txt` (beside this
module) lists such topics, one short description per line. At build time each is embedded with the bank's
model, and a topic that comes close to one of the bank's own names (a title or an alias) or sections is dropped: a bank
that has a question on SQL joins keeps "SQL joins" out of its background, so its users' SQL queries are
answered, not flagged. The kept vectors go into the index version (format.py `background.npy`); the search
reads the query's best cosine with them as one of the no-match model's features (index/nomatch.py).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

BACKGROUND_FILE = Path(__file__).with_name("background.txt")
# a background topic whose best cosine with one of the bank's names or sections reaches this is covered by the bank
COVERED_AT = 0.6


def read_topics(path: Path = BACKGROUND_FILE) -> list[str]:
    """The topic lines of a background file: blank lines and `#` comments skipped, duplicates once.

    Raises:
        ValueError: the file has no topic at all (naming the file).
    """
    topics = [line.strip() for line in Path(path).read_text(encoding="utf-8").splitlines()]
    topics = list(dict.fromkeys(t for t in topics if t and not t.startswith("#")))
    if not topics:
        raise ValueError(f"{path}: no background topic (one per line; # starts a comment)")
    return topics


def file_sha256(path: Path = BACKGROUND_FILE) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def covered(topic_vectors: np.ndarray, *fields: np.ndarray, at: float = COVERED_AT) -> np.ndarray:
    """Which topics the bank covers: a boolean per topic row, True when its best cosine with a row of any of
    `fields` (the bank's names, its sections) is >= `at`. Every array holds rows normalized to length 1."""
    best = np.full(len(topic_vectors), -1.0, dtype=np.float32)
    topics = np.asarray(topic_vectors, dtype=np.float32)
    for field in fields:
        for start in range(0, len(field), 50_000):  # a large bank's rows, a block at a time
            block = np.asarray(field[start:start + 50_000], dtype=np.float32)
            if len(topics) and len(block):
                best = np.maximum(best, (topics @ block.T).max(axis=1))
    return best >= at
