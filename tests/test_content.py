"""The content parser: valid files, the seed bank, and each kind of problem reported with file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from index.errors import ContentErrors
from ingest.content import (FORM, MAX_ID_CHARS, SECTIONS, QuestionFields, check_fields, fields_of, id_problem,
                            load_bank, render_question)

ROOT = Path(__file__).resolve().parent.parent
SEED = ROOT.parent / "shared" / "seed" / "ml-interview-questions.txt"

VALID = """---
title: "What is dropout?"
topics: [deep learning]
aliases: [dropout regularization]
---

## Short answer

Dropout randomly zeroes activations during training.

## Explanation

It stops units from co-adapting.

## Example

A CNN with dropout 0.5 before its classifier.

## Common mistakes

Leaving dropout on at inference time.

## Production story

A model served in training mode gave random answers until model.eval() was called.
"""


def write(folder: Path, name: str, text: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def problems(folder: Path) -> list[str]:
    with pytest.raises(ContentErrors) as info:
        load_bank(folder)
    return [str(e) for e in info.value.errors]


def test_valid_file_parses(tmp_path):
    write(tmp_path, "dropout.md", VALID)
    [q] = load_bank(tmp_path)
    assert q.id == "dropout"
    assert q.title == "What is dropout?"
    assert q.topics == ("deep learning",)
    assert q.aliases == ("dropout regularization",)
    assert [s.key for s in q.sections] == [k for k, _ in SECTIONS]
    assert q.sections[3].text == "Leaving dropout on at inference time."
    assert q.sections[0].line == 7


def _normalise(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower())


def test_every_seed_section_is_in_content_under_the_right_heading():
    """All 75 seed lines appear, in order, as the five sections of the 15 questions (punctuation may be restored)."""
    seed_lines = SEED.read_text(encoding="utf-8").splitlines()[2:77]
    assert len(seed_lines) == 75
    bank = load_bank(ROOT / "content")
    assert len(bank) == 15
    by_text = {_normalise(s.text): (q.id, s.key) for q in bank for s in q.sections}
    keys = [k for k, _ in SECTIONS]
    seen_questions = []
    for i, line in enumerate(seed_lines):
        found = by_text.get(_normalise(line))
        assert found is not None, f"seed line {i + 3} is not in content/"
        assert found[1] == keys[i % 5], f"seed line {i + 3} is under {found[1]}, expected {keys[i % 5]}"
        if i % 5 == 0:
            seen_questions.append(found[0])
        else:
            assert found[0] == seen_questions[-1], f"seed line {i + 3} belongs to another question"
    assert len(set(seen_questions)) == 15


def test_bank_titles_topics_and_aliases_are_filled():
    bank = load_bank(ROOT / "content")
    assert all(q.title.endswith("?") for q in bank)
    assert all(q.topics for q in bank)
    assert len({t for q in bank for t in q.topics}) >= 5
    aliases = {a for q in bank for a in q.aliases}
    assert {"RF", "GBM", "PSI", "SGD", "CV"} <= aliases


@pytest.mark.parametrize("edit, expected", [
    (lambda t: t.replace("## Example", "## Examples"), r"dropout\.md:15: unknown section \"Examples\"; expected one of .*did you mean \"Example\""),
    (lambda t: t.replace("## Common mistakes\n\nLeaving dropout on at inference time.\n", ""), r"dropout\.md:\d+: missing section \"Common mistakes\""),
    (lambda t: t.replace("A CNN with dropout 0.5 before its classifier.", ""), r"dropout\.md:15: section \"Example\" is empty"),
    (lambda t: t + "\n## Example\n\nAgain.\n", r"dropout\.md:\d+: duplicate section \"Example\" \(first on line 15\)"),
    (lambda t: t.replace('title: "What is dropout?"\n', ""), r"dropout\.md:1: missing title"),
    (lambda t: t.replace("topics: [deep learning]", "topics: [deep learning"), r"dropout\.md:\d+: front matter is not valid YAML"),
    (lambda t: t.replace("aliases:", "alias:"), r"dropout\.md:4: unknown front matter field 'alias'; did you mean 'aliases'\?"),
    (lambda t: t.replace("---\n", "", 1), r"dropout\.md:1: must start with a front matter block"),
    (lambda t: t.replace("\n## Short answer", "Stray text.\n## Short answer"), r"dropout\.md:6: text outside any section"),
    (lambda t: t.replace("topics: [deep learning]", "topics: []"), r"dropout\.md:3: topics is empty"),
])
def test_each_problem_names_file_line_and_fix(tmp_path, edit, expected):
    write(tmp_path, "dropout.md", edit(VALID))
    found = problems(tmp_path)
    assert any(re.search(expected, p) for p in found), found


def test_every_problem_in_every_file_is_reported_at_once(tmp_path):
    write(tmp_path, "a.md", VALID.replace("## Example", "## Examples"))
    write(tmp_path, "b.md", VALID.replace('title: "What is dropout?"\n', "").replace("## Explanation", "## Why"))
    write(tmp_path, "c.md", VALID)
    found = problems(tmp_path)
    assert sum("a.md" in p for p in found) >= 2  # unknown heading and the section it leaves missing
    assert any("b.md" in p and "missing title" in p for p in found)
    assert any("b.md" in p and 'unknown section "Why"' in p for p in found)
    assert not any("c.md" in p for p in found)


def test_bad_file_name_suggests_an_id(tmp_path):
    write(tmp_path, "Drop Out.md", VALID)
    assert any("rename it to drop-out.md" in p for p in problems(tmp_path))


def test_files_starting_with_underscore_or_dot_are_not_questions(tmp_path):
    write(tmp_path, "dropout.md", VALID)
    write(tmp_path, "_template.md", "not a question")
    write(tmp_path, ".draft.md", "not a question either")
    assert [q.id for q in load_bank(tmp_path)] == ["dropout"]


def test_html_in_content_is_kept_as_text(tmp_path):
    write(tmp_path, "dropout.md", VALID.replace("It stops units", "<script>alert(1)</script> It stops units"))
    [q] = load_bank(tmp_path)
    assert "<script>alert(1)</script>" in q.sections[1].text


def test_draft_field_is_accepted_and_read(tmp_path):
    write(tmp_path, "dropout.md", VALID.replace("aliases:", "draft: true\naliases:"))
    write(tmp_path, "other.md", VALID)
    bank = {q.id: q for q in load_bank(tmp_path)}
    assert bank["dropout"].draft is True and bank["other"].draft is False


def test_draft_must_be_true_or_false(tmp_path):
    write(tmp_path, "dropout.md", VALID.replace("aliases:", "draft: maybe\naliases:"))
    assert any(re.search(r"dropout\.md:4: draft must be true or false", p) for p in problems(tmp_path))


@pytest.mark.parametrize("name, expected", [
    ("con", "reserved device name"), ("nul", "reserved device name"), ("lpt1", "reserved device name"),
    ("a" * (MAX_ID_CHARS + 1), f"keep it to {MAX_ID_CHARS} at most"),
])
def test_reserved_and_overlong_file_names_are_refused(tmp_path, name, expected):
    write(tmp_path, f"{name}.md", VALID)
    found = problems(tmp_path)
    assert any("the file name is the question's id" in p and expected in p for p in found), found


@pytest.mark.parametrize("qid", ["", "../etc/passwd", "a/b", "a\\b", "x.y", ".hidden", "_draft", "Upper", "con",
                                 "with space", "trailing-", "new\nline", "a" * (MAX_ID_CHARS + 1), "caf\u00e9"])
def test_id_problem_refuses_what_must_not_become_a_file_name(qid):
    assert id_problem(qid) is not None


def test_a_rendered_question_parses_back_to_the_same_fields(tmp_path):
    fields = QuestionFields('Why "quote" a title: with # and a colon?', ("deep learning", "a, b"),
                            ("x: y", "[z]", "caf\u00e9 \u2014 \U0001F600"),
                            {k: f"{k} text\n\nsecond paragraph with --- and # not a heading" for k, _ in SECTIONS},
                            draft=True)
    question, raw, found = check_fields("odd-question", fields)
    assert found == [] and question is not None
    (tmp_path / "odd-question.md").write_bytes(raw)
    [parsed] = load_bank(tmp_path)
    assert fields_of(parsed) == fields
    assert render_question(fields_of(parsed)).text.encode() == raw


def test_form_problems_carry_the_parsers_messages_and_their_field(tmp_path):
    fields = QuestionFields("", (), (), {"short": "ok", "explanation": "## Examples\ntext", "example": "",
                                         "mistakes": "m", "story": "s"})
    _, raw, found = check_fields("dropout", fields)
    by_field: dict[str, list[str]] = {}
    for p in found:
        by_field.setdefault(p.field, []).append(p.message)
    assert by_field["title"][0].startswith("missing title")
    assert by_field["topics"][0].startswith("topics is empty")
    assert any(m.startswith('unknown section "Examples"') for m in by_field["explanation"])
    assert by_field["example"] == ['section "Example" is empty; write its text under the heading']
    # the same messages ingest gives for the same file
    write(tmp_path, "dropout.md", raw.decode())
    from_files = problems(tmp_path)
    for p in found:
        assert any(f.endswith(p.message) for f in from_files), p


def test_an_oversized_form_is_refused_as_a_whole():
    fields = QuestionFields("Big?", ("x",), (), {k: "word " * 60_000 for k, _ in SECTIONS})
    _, _, found = check_fields("big", fields)
    assert [p.field for p in found] == [FORM] and "KiB limit" in found[0].message
