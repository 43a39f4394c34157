"""The background topics (ingest/background.py): read, embedded at build, dropped where the bank covers them,
and read by the no-match check."""

from __future__ import annotations

import json

import numpy as np
import pytest

from index import IndexDamaged, open_index, store
from ingest import background
from ingest.build import build


def test_topics_skip_comments_blank_lines_and_repeats(tmp_path):
    path = tmp_path / "background.txt"
    path.write_text("# header\n\nSQL joins combine rows of two tables.\n  \nGit rebase rewrites commits.\n"
                    "SQL joins combine rows of two tables.\n", encoding="utf-8")
    assert background.read_topics(path) == ["SQL joins combine rows of two tables.", "Git rebase rewrites commits."]


def test_a_file_without_topics_is_refused_by_name(tmp_path):
    path = tmp_path / "background.txt"
    path.write_text("# only a comment\n", encoding="utf-8")
    with pytest.raises(ValueError, match="background.txt: no background topic"):
        background.read_topics(path)


def test_the_shipped_list_is_long_and_the_real_bank_covers_its_own_staples(real_index):
    assert len(background.read_topics()) >= 300
    manifest = json.loads((store.current_version(real_index) / "manifest.json").read_text())
    covered = " ".join(manifest["background"]["covered"])
    # the list names ML-interview staples too: those the user's bank has questions on are left out of its background
    for staple in ("Random forests:", "Overfitting:", "Data leakage:", "Gradient boosting:", "Word embeddings:"):
        assert staple in covered, staple
    assert "SQL joins" not in covered and "Kubernetes" not in covered


def test_covered_is_a_threshold_on_the_best_cosine_with_any_field():
    topics = np.eye(3, 4, dtype=np.float32)
    names = np.array([[1, 0, 0, 0], [0, 0.5, 0.3, 0.81]], dtype=np.float32)
    assert background.covered(topics, names, at=0.6).tolist() == [True, False, False]
    assert background.covered(topics, names, at=0.4).tolist() == [True, True, False]
    sections = np.array([[0, 0, 0.7, 0.71]], dtype=np.float32)
    assert background.covered(topics, names, sections, at=0.6).tolist() == [True, False, True], "any field counts"
    assert background.covered(topics[:0], names).tolist() == []


def test_build_drops_the_topics_the_bank_covers_and_the_search_reads_the_rest(tmp_path, content_dir, fake_embedder):
    path = tmp_path / "background.txt"
    # the first topic says what a fixture question's title says; the fake embedder makes them alike
    path.write_text("How does k-means clustering work?\nGit rebase rewrites commits onto a new base.\n"
                    "Kubernetes pods restart when a container crashes.\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build(content_dir, index_dir, embedder=fake_embedder, background_file=path)
    version = store.current_version(index_dir)
    manifest = json.loads((version / "manifest.json").read_text())
    assert manifest["background"]["covered"] == ["How does k-means clustering work?"]
    assert manifest["background"]["topics"] == 2 and manifest["background_covered"] == [0]
    assert np.load(version / "background.npy", allow_pickle=False).shape == (3, 64)  # all kept for reuse
    idx = open_index(index_dir, embedder=fake_embedder)
    assert idx.background.shape == (2, 64)
    git = fake_embedder.encode(["git rebase rewrites commits onto a new base"])[0]
    assert idx.no_match_features("git rebase rewrites commits onto a new base")[-1] == pytest.approx(
        float((idx.background @ git).max()), abs=1e-5)


def test_a_changed_background_list_rebuilds_and_embeds_only_the_new_topic(tmp_path, content_dir, fake_embedder):
    path = tmp_path / "background.txt"
    path.write_text("Git rebase rewrites commits onto a new base.\n", encoding="utf-8")
    index_dir = tmp_path / "index"
    build(content_dir, index_dir, embedder=fake_embedder, background_file=path)
    fake_embedder.calls.clear()
    path.write_text("Git rebase rewrites commits onto a new base.\nTCP handshakes open a connection.\n",
                    encoding="utf-8")
    report = build(content_dir, index_dir, embedder=fake_embedder, background_file=path)
    assert report.version is not None, "a changed background list is a new index version"
    assert fake_embedder.calls == [["TCP handshakes open a connection."]]


def test_a_background_file_of_the_wrong_width_is_refused(fake_index):
    index_dir, _, embedder = fake_index
    version = store.current_version(index_dir)
    np.save(version / "background.npy", np.zeros((3, 5), dtype=np.float32), allow_pickle=False)
    manifest = json.loads((version / "manifest.json").read_text())
    manifest["files"]["background.npy"] = store.sha256_file(version / "background.npy")
    (version / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    with pytest.raises(IndexDamaged, match="background.npy"):
        open_index(index_dir, embedder=embedder)


def test_the_real_bank_flags_most_queries_on_topics_it_lacks_and_answers_its_own(real_index):
    idx = open_index(real_index)
    off_topic = ["how do I undo a git rebase", "postgres index on a timestamp column",
                 "terraform plan shows drift in my cloud resources", "what is a python decorator",
                 "how does TCP congestion control work", "best way to negotiate a job offer salary",
                 "explain react hooks useEffect", "how do vaccines train the immune system"]
    flagged = [q for q in off_topic if idx.search(q).no_close_match]
    assert len(flagged) >= 6, f"only {flagged} flagged"
    for query in ("how do I detect leakage", "RF vs GBM", "story about a model that failed in production",
                  "what is PSI", "precision vs recall tradeoff"):
        assert not idx.search(query).no_close_match, query
