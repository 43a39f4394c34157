"""The command line keeps answering while content is edited: an index older than its content answers from the
last good version with one warning line and "stale": true; --strict refuses it; a missing or damaged index is
refused either way.

The CLI runs in this process with the fake embedder (`run_cli`); one test runs the real `python -m index` in a
child process the same way (`FAKE_CLI`), so the exit codes and streams are the command's own.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import FIXTURE_CONTENT, ROOT, FakeEmbedder
from index import cli, search
from ingest.build import build

# `python -m index ARGS…`, with queries embedded by the fake embedder (an index built with it names no real model)
FAKE_CLI = ("import sys; sys.path[:0] = [sys.argv[1], sys.argv[1] + '/tests']\n"
            "from conftest import FakeEmbedder\n"
            "from index import cli, search\n"
            "cli.open_index = lambda *a, **k: search.open_index(*a, embedder=FakeEmbedder(), **k)\n"
            "sys.exit(cli.main(sys.argv[2:]))\n")


def run_cli(*argv: str, stdin: bytes = b"") -> tuple[int, str, str]:
    """`python -m index ARGV…` in this process with the fake embedder: (exit code, stdout, stderr)."""
    out, err = io.StringIO(), io.StringIO()
    real_open, real_stdin = cli.open_index, sys.stdin
    cli.open_index = lambda *a, **k: search.open_index(*a, embedder=FakeEmbedder(), **k)
    sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = cli.main(list(argv))
    finally:
        cli.open_index, sys.stdin = real_open, real_stdin
    return code, out.getvalue(), err.getvalue()


def search_json(index: Path, *extra: str, query: str = "lasso ridge penalty") -> tuple[int, dict | None, str]:
    """`search --json --k 3` of one query: (exit code, the JSON answer or None, stderr)."""
    code, out, err = run_cli("search", "--json", "--k", "3", "--index", str(index), *extra, query)
    return code, (json.loads(out) if out.strip() else None), err


def assert_stale_answer(index: Path, changed: list[str]) -> None:
    """The index answers from its last good version, says so in the JSON and in exactly one warning line."""
    code, payload, err = search_json(index)
    assert code == 0, err
    assert payload["stale"] is True
    assert payload["results"][0]["question_id"] == "regularization"
    lines = err.strip().splitlines()
    assert len(lines) == 1, err
    assert lines[0].startswith("warning: the index at ") and "answers come from the last good index" in lines[0]
    assert f"python -m ingest --content {index.parent / 'content'} --index {index}" in lines[0]
    for name in changed:
        assert name in lines[0]


@pytest.fixture
def bank(tmp_path):
    """(content folder, index folder) of the fixture bank, built with the fake embedder."""
    content = tmp_path / "content"
    shutil.copytree(FIXTURE_CONTENT, content)
    build(content, tmp_path / "index", embedder=FakeEmbedder())
    return content, tmp_path / "index"


def add_draft(content: Path) -> str:
    """A new, valid but unconfirmed question, as the importer or a text editor leaves it."""
    text = (FIXTURE_CONTENT / "k-means.md").read_text(encoding="utf-8")
    (content / "k-medoids.md").write_text(text.replace("---\n", "---\ndraft: true\n", 1), encoding="utf-8")
    return "k-medoids.md"


def test_a_fresh_index_says_stale_false_and_warns_nothing(bank):
    _, index = bank
    code, payload, err = search_json(index)
    assert code == 0 and err == ""
    assert payload["stale"] is False
    code, payload, err = search_json(index, "--strict")
    assert code == 0 and err == "" and payload["stale"] is False


def test_a_new_draft_is_answered_from_the_last_good_index(bank):
    content, index = bank
    assert_stale_answer(index, [add_draft(content)])


def test_an_edited_and_a_removed_file_are_both_named(bank):
    content, index = bank
    (content / "roc-auc.md").write_text((content / "roc-auc.md").read_text() + "\nHalf a sent", encoding="utf-8")
    (content / "k-means.md").unlink()
    assert_stale_answer(index, ["k-means.md", "roc-auc.md"])


def test_strict_refuses_a_stale_index_with_the_rebuild_command(bank):
    content, index = bank
    add_draft(content)
    code, payload, err = search_json(index, "--strict")
    assert code == 1 and payload is None
    assert err.startswith("error: the index at ") and "is stale" in err and "k-medoids.md" in err
    assert "python -m ingest" in err and len(err.strip().splitlines()) == 1
    for command in (["related", "--json"], ["grade", "--json", "regularization"]):
        code, out, err = run_cli(*command, "--strict", "--index", str(index), stdin=b"It shrinks the weights.")
        assert code == 1 and out == "" and "is stale" in err, command


def test_readable_output_answers_with_the_warning_on_stderr(bank):
    content, index = bank
    add_draft(content)
    code, out, err = run_cli("search", "--index", str(index), "lasso", "ridge", "penalty")
    assert code == 0 and out.startswith("1. ")
    assert len(err.strip().splitlines()) == 1 and err.startswith("warning: ") and "k-medoids.md" in err


def test_pipe_mode_marks_every_line_and_warns_once(bank):
    content, index = bank
    add_draft(content)
    code, out, err = run_cli("search", "--index", str(index), stdin=b"lasso ridge penalty\n\n   \nroc curve\n")
    assert code == 0
    answers = [json.loads(line) for line in out.splitlines()]
    assert len(answers) == 4
    assert all(a["stale"] is True for a in answers)
    assert "error" in answers[1] and answers[0]["results"][0]["question_id"] == "regularization"
    assert len(err.strip().splitlines()) == 1 and err.startswith("warning: ")


def test_related_and_grade_answer_too(bank):
    content, index = bank
    add_draft(content)
    code, out, err = run_cli("related", "--json", "--k", "1", "--index", str(index))
    assert code == 0 and err.startswith("warning: ") and len(err.strip().splitlines()) == 1
    lines = [json.loads(line) for line in out.splitlines()]
    assert len(lines) == 3 and all(line["stale"] is True for line in lines)  # the draft is not in the old index
    code, out, err = run_cli("grade", "--json", "--index", str(index), "regularization",
                             stdin=b"Regularization adds a penalty on large weights so the model generalises.")
    assert code == 0 and err.startswith("warning: ")
    graded = json.loads(out)
    assert graded["stale"] is True and graded["question_id"] == "regularization" and graded["points"]


def test_missing_and_damaged_index_are_refused_even_while_content_changed(bank, tmp_path):
    content, index = bank
    add_draft(content)
    for strict in ([], ["--strict"]):
        code, payload, err = search_json(tmp_path / "none", *strict)
        assert code == 1 and payload is None and err.startswith("error: no index at ")
    vectors = next(p for p in (index / (index / "CURRENT").read_text().strip()).iterdir() if p.suffix == ".npy")
    vectors.write_bytes(vectors.read_bytes()[:-8] + b"\0" * 8)
    for strict in ([], ["--strict"]):
        code, payload, err = search_json(index, *strict)
        assert code == 1 and payload is None, strict
        assert err.startswith("error: the index at ") and "is damaged" in err and "warning" not in err
        assert len(err.strip().splitlines()) == 1


def test_the_real_command_answers_a_stale_index_and_strict_refuses_it(bank):
    content, index = bank
    add_draft(content)
    env = dict(os.environ, PYTHONUNBUFFERED="1")

    def command(*args):
        return subprocess.run([sys.executable, "-c", FAKE_CLI, str(ROOT), *args], cwd=ROOT, capture_output=True,
                              text=True, timeout=120, env=env)

    answered = command("search", "--json", "--index", str(index), "lasso ridge penalty")
    assert answered.returncode == 0, answered.stderr
    assert json.loads(answered.stdout)["stale"] is True
    assert answered.stderr.startswith("warning: ") and "k-medoids.md" in answered.stderr
    assert len(answered.stderr.strip().splitlines()) == 1
    refused = command("search", "--json", "--strict", "--index", str(index), "lasso ridge penalty")
    assert refused.returncode == 1 and refused.stdout == "" and "is stale" in refused.stderr
