"""Ingest: chunking, the manifest, incremental re-embedding, staleness and atomic publishing."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import IndexDamaged, IndexMissing, IndexStale, open_index, store
from index.errors import ContentErrors
from ingest import background
from ingest.build import build
from ingest.chunking import chunk
from ingest.content import load_bank


def test_one_chunk_per_section_with_ids_from_content(content_dir):
    q = next(q for q in load_bank(content_dir) if q.id == "roc-auc")
    chunks = chunk(q)
    assert [c.id for c in chunks] == ["roc-auc#short", "roc-auc#explanation", "roc-auc#example", "roc-auc#mistakes",
                                      "roc-auc#story"]
    assert chunks[3].embed_text.startswith("What does ROC AUC measure?\nCommon mistakes: Reading a high AUC")


def test_manifest_records_model_dimension_format_and_hashes(fake_index):
    index_dir, content_dir, embedder = fake_index
    version = store.current_version(index_dir)
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["format_version"] == store.FORMAT_VERSION
    assert manifest["model"]["name"] == "fake-bow"
    assert manifest["model"]["weights_sha256"] == embedder.weights_sha256
    assert manifest["model"]["dimension"] == 64
    assert manifest["counts"] == {"questions": 3, "chunks": 15}
    assert set(manifest["chunks"]) == {f"{q}#{s}" for q in ("k-means", "regularization", "roc-auc")
                                       for s in ("short", "explanation", "example", "mistakes", "story")}
    assert all(len(h) == 64 for h in manifest["chunks"].values())
    assert set(manifest["files"]) >= {"questions.json", "chunks.json", "vectors.npy", "sections.faiss",
                                      "lexical/sections/params.index.json"}
    assert set(manifest["sources"]) == {"k-means.md", "regularization.md", "roc-auc.md"}
    assert np.load(version / "vectors.npy", allow_pickle=False).shape == (15, 64)


def test_unchanged_rerun_embeds_and_writes_nothing(fake_index):
    index_dir, content_dir, embedder = fake_index
    before = store.current_version(index_dir)
    calls = len(embedder.calls)
    report = build(content_dir, index_dir, embedder=embedder)
    assert report.embedded == 0 and report.reused == 15 and report.version is None
    assert len(embedder.calls) == calls
    assert store.current_version(index_dir) == before


def test_a_changed_section_is_re_embedded_alone(fake_index):
    index_dir, content_dir, embedder = fake_index
    path = content_dir / "k-means.md"
    path.write_text(path.read_text().replace("An online shop grouped", "A grocery chain grouped"))
    embedder.calls.clear()
    report = build(content_dir, index_dir, embedder=embedder)
    assert report.embedded == 1 and report.reused == 14
    # one model call: the changed section and its one changed sentence (sentences are embedded too)
    assert len(embedder.calls) == 1 and len(embedder.calls[0]) == 2
    assert all("A grocery chain grouped" in text for text in embedder.calls[0])
    idx = open_index(index_dir, embedder=embedder)
    assert "grocery" in idx.question("k-means").section("example").text


def test_stale_index_names_the_fix(fake_index):
    index_dir, content_dir, embedder = fake_index
    (content_dir / "roc-auc.md").write_text((content_dir / "roc-auc.md").read_text() + "\nMore.\n")
    with pytest.raises(IndexStale) as info:
        open_index(index_dir, embedder=embedder)
    assert "roc-auc.md" in str(info.value) and "python -m ingest" in str(info.value)
    assert store.is_fresh(index_dir, content_dir) is False
    # a new file and a removed file count as changes too
    build(content_dir, index_dir, embedder=embedder)
    assert store.is_fresh(index_dir, content_dir) is True
    (content_dir / "k-means.md").unlink()
    with pytest.raises(IndexStale, match="k-means.md"):
        open_index(index_dir, embedder=embedder)


def test_missing_index_names_the_fix(tmp_path):
    with pytest.raises(IndexMissing, match="python -m ingest"):
        open_index(tmp_path / "nowhere")


def test_broken_content_writes_nothing(fake_index):
    index_dir, content_dir, embedder = fake_index
    before = {p: p.read_bytes() for p in index_dir.rglob("*") if p.is_file()}
    (content_dir / "roc-auc.md").write_text("---\ntitle: x\n---\n## Nope\n")
    with pytest.raises(ContentErrors):
        build(content_dir, index_dir, embedder=embedder)
    after = {p: p.read_bytes() for p in index_dir.rglob("*") if p.is_file()}
    assert before == after


def test_failure_between_writes_leaves_the_old_index_readable(fake_index, monkeypatch):
    index_dir, content_dir, embedder = fake_index
    before = store.current_version(index_dir)
    path = content_dir / "roc-auc.md"
    path.write_text(path.read_text().replace("85%", "86%"))

    def fail(step):
        if step == "lexical-written":
            raise OSError("disk full (injected)")

    monkeypatch.setattr(store, "_checkpoint", fail)
    with pytest.raises(OSError, match="injected"):
        build(content_dir, index_dir, embedder=embedder)
    assert store.current_version(index_dir) == before
    idx = open_index(index_dir, embedder=embedder, check_stale=False)
    assert "85%" in idx.question("roc-auc").section("example").text
    assert not list(index_dir.glob(".tmp-*"))
    monkeypatch.undo()
    report = build(content_dir, index_dir, embedder=embedder)
    assert report.version is not None and report.embedded == 1
    assert "86%" in open_index(index_dir, embedder=embedder).question("roc-auc").section("example").text


def test_old_versions_and_leftovers_are_cleaned(fake_index):
    index_dir, content_dir, embedder = fake_index
    (index_dir / ".tmp-v-leftover").mkdir()
    for n in range(3):
        path = content_dir / "roc-auc.md"
        path.write_text(path.read_text() + f"\nEdit {n}.\n")
        build(content_dir, index_dir, embedder=embedder)
    versions = [p for p in index_dir.iterdir() if p.name.startswith("v-")]
    assert len(versions) == 2  # the live one and the one before it, for readers mid-load
    assert not (index_dir / ".tmp-v-leftover").exists()


def test_tampered_file_is_refused(fake_index):
    index_dir, content_dir, embedder = fake_index
    version = store.current_version(index_dir)
    with open(version / "chunks.json", "a") as f:
        f.write(" ")
    with pytest.raises(IndexDamaged, match="chunks.json does not match its hash"):
        open_index(index_dir, embedder=embedder)


def test_an_index_opened_before_two_builds_still_answers(fake_index):
    # the writer keeps the newest two versions: the one this Index read is deleted by the second build, and its
    # rows are then read through the memory map instead of by path
    index_dir, content_dir, embedder = fake_index
    old = open_index(index_dir, embedder=embedder)
    first = old.search("k-means clustering", k=3)
    path = content_dir / "k-means.md"
    for n in range(2):
        path.write_text(path.read_text().replace("An online shop grouped" if n == 0 else "A grocery chain grouped",
                                                 "A grocery chain grouped" if n == 0 else "A bakery grouped"))
        build(content_dir, index_dir, embedder=embedder)
    assert old.version not in list(index_dir.iterdir())
    again = old.search("k-means clustering", k=3)
    assert [h.chunk_id for h in again.hits] == [h.chunk_id for h in first.hits]


def test_an_index_of_an_older_format_is_rewritten_without_re_embedding(fake_index):
    index_dir, content_dir, embedder = fake_index
    version = store.current_version(index_dir)
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["format_version"] = store.FORMAT_VERSION - 1
    del manifest["embedding_keys"]["background"]  # an older format had no background field
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexDamaged, match="format version"):
        open_index(index_dir, embedder=embedder)
    embedder.calls.clear()
    report = build(content_dir, index_dir, embedder=embedder)
    assert report.version is not None and report.embedded == 0
    assert all(len(call) == len(background.read_topics()) for call in embedder.calls), "only the new field"
    assert open_index(index_dir, embedder=embedder).search("k-means").hits


def test_an_edit_is_embedded_with_the_index_s_own_onnx_export_without_torch(real_index, tmp_path):
    """A save re-embeds with the export the queries use (verified by its hashes): no torch import, so the edit is
    searchable in about a second, and its vector agrees with the reference model's."""
    import os
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from index import format
    from index.embed import SentenceTransformerEmbedder, resolve_model

    root = Path(__file__).resolve().parent.parent
    content, index_dir = tmp_path / "content", tmp_path / "index"
    shutil.copytree(root / "content", content)
    shutil.copytree(real_index, index_dir)
    path = content / "overfitting.md"
    path.write_text(path.read_text(encoding="utf-8").replace("training data too well", "training data far too well"),
                    encoding="utf-8")
    code = ("import sys\nfrom ingest.build import build\nr = build(sys.argv[1], sys.argv[2])\n"
            "print(r.embedded, r.version is not None, 'torch' in sys.modules, 'sentence_transformers' in sys.modules)")
    run = subprocess.run([sys.executable, "-c", code, str(content), str(index_dir)], cwd=root, capture_output=True,
                         text=True, env=dict(os.environ, HF_HUB_OFFLINE="1"), timeout=300)
    assert run.returncode == 0, run.stderr[-2000:]
    assert run.stdout.split() == ["1", "True", "False", "False"], run.stdout
    version = store.current_version(index_dir)
    chunk_ids = [c.id for c in format.read_chunks(version)]
    row = chunk_ids.index("overfitting#short")
    text = next(c for c in chunk(next(q for q in load_bank(content) if q.id == "overfitting"))
                if c.id == "overfitting#short").embed_text
    reference = SentenceTransformerEmbedder(resolve_model("all-MiniLM-L6-v2")).encode([text])[0]
    assert float(format.read_vectors(version, "sections")[row] @ reference) > 0.9999


class _Stream:
    def __init__(self, tty: bool):
        self.tty, self.text = tty, ""

    def isatty(self):
        return self.tty

    def write(self, s):
        self.text += s

    def flush(self):
        pass


def test_the_embedders_progress_reaches_the_caller_as_embedding_steps(content_dir, tmp_path, fake_embedder):
    class Batched(type(fake_embedder)):  # reports after every 10 texts, as the real embedders do after each batch
        def encode(self, texts, progress=None, batch_size=32):
            texts = list(texts)
            for done in range(10, len(texts) + 10, 10):
                progress(min(done, len(texts)), len(texts))
            return super().encode(texts)

    embedder, seen = Batched(), []
    build(content_dir, tmp_path / "index", embedder=embedder, progress=lambda *step: seen.append(step))
    assert len(seen) > 1 and {s[0] for s in seen} == {"embedding"}
    assert seen[-1][1] == seen[-1][2] == embedder.embedded
    assert [s[1] for s in seen] == sorted(s[1] for s in seen)
    seen.clear()
    build(content_dir, tmp_path / "index", embedder=embedder, progress=lambda *step: seen.append(step))
    assert seen == []  # unchanged: nothing embedded, nothing reported


def test_terminal_bar_is_one_line_redrawn_in_place_and_cleared():
    from ingest.bar import TerminalBar

    tty = _Stream(tty=True)
    bar = TerminalBar(tty)
    for done in (1, 50, 100):
        bar("embedding", done, 100)
    assert "\n" not in tty.text and tty.text.startswith("\r") and "100/100 [" in tty.text and "100%" in tty.text
    bar.close()
    assert tty.text.endswith("\r\x1b[K")


def test_terminal_bar_writes_only_whole_step_lines_when_not_a_terminal():
    from ingest.bar import TerminalBar

    log = _Stream(tty=False)
    bar = TerminalBar(log)
    bar("exporting the model to ONNX (once per model on this machine)", 0, 0)
    for done in range(0, 101, 10):
        bar("embedding", done, 100)
    bar.close()
    assert log.text == "exporting the model to ONNX (once per model on this machine)\n"
