"""Shared fixtures: a deterministic fake embedder, a tiny content corpus, and the real bank's index."""

from __future__ import annotations

import hashlib
import os
import re
import shutil
from pathlib import Path

import numpy as np
import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")

ROOT = Path(__file__).resolve().parent.parent
FIXTURE_CONTENT = Path(__file__).resolve().parent / "fixtures" / "content"


class FakeEmbedder:
    """Deterministic bag-of-words vectors: texts sharing words get similar vectors. No model, no torch.

    It counts calls so tests can prove what was (re-)embedded.
    """

    name = "fake-bow"
    weights_sha256 = "0" * 64
    dimension = 64
    max_seq_length = 256

    def __init__(self):
        self.calls: list[list[str]] = []

    def encode(self, texts, progress=False, batch_size=32):
        texts = list(texts)
        self.calls.append(texts)
        out = np.zeros((len(texts), self.dimension), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in re.findall(r"[a-z0-9]+", text.lower()):
                h = int.from_bytes(hashlib.sha256(word.encode()).digest()[:8], "little")
                out[i, h % self.dimension] += 1.0 if (h >> 32) & 1 else -1.0
            norm = np.linalg.norm(out[i])
            out[i] = out[i] / norm if norm else np.eye(1, self.dimension, 0, dtype=np.float32)
        return out

    @property
    def embedded(self) -> int:
        return sum(len(c) for c in self.calls)


@pytest.fixture
def fake_embedder():
    return FakeEmbedder()


@pytest.fixture
def content_dir(tmp_path) -> Path:
    """A writable copy of the tiny fixture corpus (3 questions)."""
    target = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, target)
    return target


@pytest.fixture
def fake_index(tmp_path, content_dir, fake_embedder):
    """(index folder, content folder, embedder) built from the fixture corpus with the fake embedder."""
    from ingest.build import build

    index_dir = tmp_path / "index"
    build(content_dir, index_dir, embedder=fake_embedder)
    return index_dir, content_dir, fake_embedder


@pytest.fixture(scope="session")
def real_index(tmp_path_factory) -> Path:
    """The real bank (content/) indexed once per test session with the real all-MiniLM-L6-v2 (chosen explicitly,
    so copies rebuilt without a model keep it: the default model's own index costs minutes to build here)."""
    from ingest.build import build

    index_dir = tmp_path_factory.mktemp("real") / "index"
    build(ROOT / "content", index_dir, model="all-MiniLM-L6-v2")
    return index_dir


@pytest.fixture(scope="session")
def mpnet_index(tmp_path_factory) -> Path:
    """The real bank indexed once per test session with all-mpnet-base-v2, the default model (a few minutes here,
    so every test that needs it shares this one)."""
    from ingest.build import build

    index_dir = tmp_path_factory.mktemp("mpnet") / "index"
    build(ROOT / "content", index_dir, model="all-mpnet-base-v2")
    return index_dir
