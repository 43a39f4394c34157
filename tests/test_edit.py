"""Saving a question from a form: every refusal writes nothing; an edit keeps a backup that can be restored;
the index is updated incrementally while an open index keeps answering."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest

from index.errors import UnknownQuestion
from ingest.content import FORM, MAX_ID_CHARS, SECTIONS, QuestionFields, load_bank
from ingest.edit import (BACKUPS, EditRefused, list_backups, open_question, read_only, reindex, restore_backup,
                         save_question)


def form(title="What is zebraquux pooling?", **sections) -> QuestionFields:
    texts = {key: f"Zebraquux {key} text." for key, _ in SECTIONS}
    texts.update(sections)
    return QuestionFields(title, ("deep learning",), ("zebraquux",), texts)


def snapshot(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}


def test_a_new_question_is_written_and_parses(content_dir):
    result = save_question(content_dir, "zebraquux-pooling", form())
    assert result.saved and result.problems == () and result.backup is None
    assert result.path == content_dir / "zebraquux-pooling.md"
    bank = {q.id: q for q in load_bank(content_dir)}
    assert bank["zebraquux-pooling"].title == "What is zebraquux pooling?"
    assert bank["zebraquux-pooling"].sha256 == result.sha256


@pytest.mark.parametrize("qid", ["../escape", "a/b", "..", ".hidden", "_draft", "x.md", "con", "NUL", "aux",
                                 "Upper", "with space", "a" * (MAX_ID_CHARS + 1), "", "new\nline", "/abs/path"])
def test_an_id_that_is_not_lowercase_words_and_hyphens_never_reaches_the_disk(tmp_path, content_dir, qid):
    before = snapshot(tmp_path)
    result = save_question(content_dir, qid, form())
    assert not result.saved
    assert [p.field for p in result.problems] == ["id"]
    assert snapshot(tmp_path) == before  # nothing anywhere, not even the backup folder


def test_a_new_question_on_a_taken_id_is_refused(content_dir):
    before = snapshot(content_dir)
    result = save_question(content_dir, "k-means", form())
    assert not result.saved and result.by_field()["id"][0].startswith("a question with the id 'k-means' already")
    assert snapshot(content_dir) == before


def test_a_taken_id_in_a_subfolder_is_a_collision_too(content_dir):
    (content_dir / "more").mkdir()
    save_question(content_dir, "zebraquux-pooling", form())
    (content_dir / "zebraquux-pooling.md").rename(content_dir / "more" / "zebraquux-pooling.md")
    result = save_question(content_dir, "zebraquux-pooling", form())
    assert not result.saved and "more/zebraquux-pooling.md" in result.by_field()["id"][0]


def test_an_empty_section_is_refused_with_its_field(content_dir):
    result = save_question(content_dir, "zebraquux-pooling", form(mistakes="   \n  "))
    assert not result.saved
    assert result.by_field() == {"mistakes": ['section "Common mistakes" is empty; write its text under the heading']}
    assert not (content_dir / "zebraquux-pooling.md").exists()


def test_every_problem_of_a_form_is_returned_at_once_per_field(content_dir):
    result = save_question(content_dir, "zebraquux-pooling",
                           QuestionFields("", (), (), {"short": "ok", "example": "## Examples"}))
    fields = result.by_field()
    assert {"title", "topics", "explanation", "example", "mistakes", "story"} <= fields.keys()
    assert not (content_dir / "zebraquux-pooling.md").exists()


def test_an_edit_keeps_the_id_and_a_backup_that_can_be_restored(content_dir):
    fields, sha = open_question(content_dir, "k-means")
    original = (content_dir / "k-means.md").read_bytes()
    changed = QuestionFields("How does k-means work, step by step?", fields.topics, fields.aliases, fields.sections)
    result = save_question(content_dir, "k-means", changed, sha)
    assert result.saved and result.path == content_dir / "k-means.md"
    assert result.backup.parent == content_dir / BACKUPS and result.backup.read_bytes() == original
    assert {q.id: q.title for q in load_bank(content_dir)}["k-means"] == "How does k-means work, step by step?"
    [backup] = list_backups(content_dir, "k-means")
    assert backup.path == result.backup

    restored = restore_backup(content_dir, "k-means", backup.name, result.sha256)
    assert restored.saved and (content_dir / "k-means.md").read_bytes() == original
    assert len(list_backups(content_dir, "k-means")) == 2  # the version the restore replaced is kept too
    assert {q.id for q in load_bank(content_dir)} == {"k-means", "regularization", "roc-auc"}  # .backups skipped


def test_saving_an_unchanged_form_writes_nothing(content_dir):
    fields, sha = open_question(content_dir, "k-means")
    first = save_question(content_dir, "k-means", fields, sha)
    before = snapshot(content_dir)
    again = save_question(content_dir, "k-means", fields, first.sha256)
    assert again.saved and again.backup is None and snapshot(content_dir) == before


def test_a_file_changed_on_disk_since_it_was_opened_is_not_overwritten(content_dir):
    fields, sha = open_question(content_dir, "k-means")
    path = content_dir / "k-means.md"
    path.write_text(path.read_text(encoding="utf-8").replace("five segments", "six segments"), encoding="utf-8")
    by_hand = path.read_bytes()
    result = save_question(content_dir, "k-means", QuestionFields("Mine?", fields.topics, (), fields.sections), sha)
    assert not result.saved and "changed on disk since you opened it" in result.by_field()[FORM][0]
    assert path.read_bytes() == by_hand and list_backups(content_dir, "k-means") == []


def test_a_file_deleted_since_it_was_opened_is_not_recreated_by_an_edit(content_dir):
    fields, sha = open_question(content_dir, "k-means")
    (content_dir / "k-means.md").unlink()
    result = save_question(content_dir, "k-means", fields, sha)
    assert not result.saved and "deleted since you opened it" in result.by_field()[FORM][0]
    assert not (content_dir / "k-means.md").exists()


def test_two_sessions_editing_one_question_cannot_both_win(content_dir):
    fields, sha = open_question(content_dir, "k-means")
    results = []
    barrier = threading.Barrier(8)

    def edit(n):
        barrier.wait()
        results.append(save_question(content_dir, "k-means",
                                     QuestionFields(f"Version {n}?", fields.topics, (), fields.sections), sha))

    threads = [threading.Thread(target=edit, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.saved for r in results) == 1
    [winner] = [r for r in results if r.saved]
    assert (content_dir / "k-means.md").read_bytes() == winner.path.read_bytes()
    assert len(list_backups(content_dir, "k-means")) == 1


@pytest.mark.parametrize("value", ["1", "true", "yes", "on"])
def test_read_only_refuses_every_write(content_dir, monkeypatch, value):
    fields, sha = open_question(content_dir, "k-means")
    edited = save_question(content_dir, "k-means", QuestionFields("Edited?", fields.topics, (), fields.sections), sha)
    [backup] = list_backups(content_dir, "k-means")
    monkeypatch.setenv("MLPREP_READONLY", value)
    assert read_only()
    before = snapshot(content_dir)
    new = save_question(content_dir, "zebraquux-pooling", form())
    edit = save_question(content_dir, "k-means", fields, edited.sha256)
    assert not new.saved and not edit.saved
    assert "MLPREP_READONLY" in new.by_field()[FORM][0]
    with pytest.raises(EditRefused, match="MLPREP_READONLY"):
        restore_backup(content_dir, "k-means", backup.name, edited.sha256)
    assert snapshot(content_dir) == before


@pytest.mark.parametrize("value", ["", "0", "false", "no"])
def test_read_only_off(monkeypatch, value):
    monkeypatch.setenv("MLPREP_READONLY", value)
    assert not read_only()


@pytest.mark.parametrize("name", ["../../k-means.md", "k-means.md", "regularization.20260101T000000.000000Z.md", ""])
def test_only_a_listed_backup_can_be_restored(content_dir, name):
    fields, sha = open_question(content_dir, "k-means")
    with pytest.raises(EditRefused, match="is not a backup of 'k-means'"):
        restore_backup(content_dir, "k-means", name, sha)


def test_opening_an_unknown_or_invalid_id_raises(content_dir):
    with pytest.raises(UnknownQuestion):
        open_question(content_dir, "no-such-question")
    with pytest.raises(UnknownQuestion):
        open_question(content_dir, "../k-means")


def test_the_old_index_keeps_answering_while_a_save_is_indexed(fake_index):
    from index.search import open_index

    index_dir, content_dir, embedder = fake_index
    old = open_index(index_dir, embedder=embedder)
    before = [h.question_id for h in old.search("k-means clustering centroids", k=3).hits]
    assert before[0] == "k-means"
    assert save_question(content_dir, "zebraquux-pooling", form()).saved
    assert reindex(content_dir, index_dir, embedder=embedder).version is not None
    assert [h.question_id for h in old.search("k-means clustering centroids", k=3).hits] == before
    assert all(h.question_id != "zebraquux-pooling" for h in old.search("zebraquux pooling", k=3).hits)
    new = open_index(index_dir, content_dir, embedder=embedder)
    assert new.search("zebraquux pooling", k=3).hits[0].question_id == "zebraquux-pooling"


def test_each_save_embeds_only_the_question_it_changed(fake_index):
    index_dir, content_dir, embedder = fake_index
    for n in range(3):
        embedder.calls.clear()
        assert save_question(content_dir, f"zebraquux-pooling-{n}", form(f"What is zebraquux pooling {n}?")).saved
        assert reindex(content_dir, index_dir, embedder=embedder).version is not None
        embedded = [text for call in embedder.calls for text in call]
        assert embedded and all("zebraquux" in text.lower() for text in embedded), embedded
    fields, sha = open_question(content_dir, "zebraquux-pooling-1")
    embedder.calls.clear()
    edited = QuestionFields(fields.title, fields.topics, fields.aliases, {**fields.sections, "story": "Zebraquux now."})
    assert save_question(content_dir, "zebraquux-pooling-1", edited, sha).saved
    reindex(content_dir, index_dir, embedder=embedder)
    assert [text for call in embedder.calls for text in call] == \
        ["What is zebraquux pooling 1?\nProduction story: Zebraquux now.", "Zebraquux now."]


def test_a_broken_file_elsewhere_stops_the_update_and_keeps_the_last_good_index(fake_index):
    from index.errors import ContentErrors
    from index.search import open_index

    index_dir, content_dir, embedder = fake_index
    (content_dir / "half-written.md").write_text("---\ntitle: \"Half\n", encoding="utf-8")
    assert save_question(content_dir, "zebraquux-pooling", form()).saved
    with pytest.raises(ContentErrors, match="half-written.md"):
        reindex(content_dir, index_dir, embedder=embedder)
    last_good = open_index(index_dir, embedder=embedder, check_stale=False)  # as the app serves it
    assert last_good.search("k-means clustering", k=1).hits[0].question_id == "k-means"
