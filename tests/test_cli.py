"""The command-line contract: JSON fields, pipe mode answering line by line, clear error exits."""

from __future__ import annotations

import json
import os
import select
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.model


def run(*args, stdin: str | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "index", *args], cwd=ROOT, input=stdin, capture_output=True,
                          text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})


def test_search_json_has_the_contract_fields(real_index):
    out = run("search", "--json", "--k", "4", "--index", str(real_index), "how", "do", "I", "detect", "leakage")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["query"] == "how do I detect leakage"
    assert payload["no_close_match"] is False
    assert len(payload["results"]) == 4
    first = payload["results"][0]
    assert {"question_id", "question", "section", "text", "score", "dense_score", "lexical_score"} <= first.keys()
    assert first["question_id"] == "feature-leakage"
    assert len(first["text"]) > 150  # the section's full text, not a snippet
    scores = [r["score"] for r in payload["results"]]
    assert scores == sorted(scores, reverse=True)


def test_search_readable_output(real_index):
    out = run("search", "--index", str(real_index), "RF", "vs", "GBM")
    assert out.returncode == 0, out.stderr
    assert out.stdout.startswith("1. ")
    assert "[" in out.stdout and "meaning" in out.stdout


def test_readable_output_lists_questions_as_the_app_does(real_index):
    out = run("search", "--k", "20", "--index", str(real_index), "precison recall tradeoff for cancer screening")
    assert out.returncode == 0, out.stderr
    text = out.stdout
    assert text.startswith("Showing results for: precision recall tradeoff for cancer screening  "
                           "(you typed: precison recall tradeoff for cancer screening; --as-typed searches that)\n")
    lines = text.splitlines()
    first = lines.index(next(line for line in lines if line.startswith("1. ")))
    assert lines[first].endswith("[precision-vs-recall]") and lines[first + 1].startswith("   Short answer · meaning")
    assert "   Matching passage, Explanation:" in lines and "cancer screening" in text
    also = [line for line in lines if line.startswith("   also ")]
    assert len(also) == 4, "the question's other matching sections, a line each, under it"
    assert text.count("[precision-vs-recall]") == 1, "one entry per question"
    loose = lines.index("Loosely related (far below the first result):")
    assert loose > first and any("[model-drift]" in line and "no shared words" in line for line in lines[loose:])
    assert not any(line.startswith("2. ") for line in lines[:loose]), "nothing else above the divider"


def test_json_names_the_repaired_query_and_the_loosely_related(real_index):
    out = run("search", "--json", "--k", "20", "--index", str(real_index), "precison recall tradeoff for cancer screening")
    payload = json.loads(out.stdout)
    assert payload["corrected_query"] == "precision recall tradeoff for cancer screening"
    assert payload["corrected"] == {"precison": "precision"}
    loose = {r["question_id"]: r["loosely_related"] for r in payload["results"]}
    assert loose["precision-vs-recall"] is False and loose["model-drift"] is True
    plain = json.loads(run("search", "--json", "--index", str(real_index), "precision recall").stdout)
    assert plain["corrected_query"] is None
    typed = run("search", "--json", "--as-typed", "--index", str(real_index), "precison recall")
    assert json.loads(typed.stdout)["corrected"] == {} and json.loads(typed.stdout)["corrected_query"] is None
    piped = run("search", "--as-typed", "--index", str(real_index), stdin="precison recall\n")
    assert json.loads(piped.stdout)["corrected_query"] is None


def test_pipe_mode_answers_each_line_as_soon_as_it_is_read(real_index):
    proc = subprocess.Popen([sys.executable, "-m", "index", "search", "--k", "2", "--index", str(real_index)],
                            cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, bufsize=1)
    try:
        answers = []
        for query in ["what is overfitting", "", "precision vs recall"]:
            proc.stdin.write(query + "\n")
            proc.stdin.flush()
            ready, _, _ = select.select([proc.stdout], [], [], 60)
            assert ready, f"no answer to {query!r} while stdin is still open"
            answers.append(json.loads(proc.stdout.readline()))
        assert answers[0]["query"] == "what is overfitting"
        assert answers[0]["results"][0]["question_id"] == "overfitting"
        assert "blank" in answers[1]["error"] and answers[1]["results"] == []
        assert answers[2]["results"][0]["question_id"] == "precision-vs-recall"
    finally:
        proc.stdin.close()
        assert proc.wait(timeout=30) == 0
        proc.stdout.close()
        proc.stderr.close()


def test_related_json_for_every_question(real_index):
    out = run("related", "--json", "--k", "3", "--index", str(real_index))
    assert out.returncode == 0, out.stderr
    lines = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(lines) == 15
    for line in lines:
        assert len(line["related"]) == 3
        assert line["question_id"] not in [r["question_id"] for r in line["related"]]
        assert {"question_id", "question", "score"} <= line["related"][0].keys()


@pytest.mark.parametrize("args, message", [
    (["search", "   "], "blank"),
    (["related", "no-such-question"], "unknown question id"),
])
def test_errors_are_one_clear_line(real_index, args, message):
    out = run(*args[:1], "--index", str(real_index), *args[1:])
    assert out.returncode == 1
    assert message in out.stderr and "Traceback" not in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1


def test_missing_and_damaged_index(tmp_path, real_index):
    missing = run("search", "--index", str(tmp_path / "none"), "x")
    assert missing.returncode == 1 and "no index at" in missing.stderr and "python -m ingest" in missing.stderr
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "CURRENT").write_text("../../etc\n")
    out = run("search", "--index", str(damaged), "x")
    assert out.returncode == 1 and "damaged" in out.stderr and "Traceback" not in out.stderr


def test_stale_index_answers_with_a_warning_and_strict_refuses_it(tmp_path):
    """A new draft in the content folder: the real command with the real model answers from the last good index."""
    import shutil

    from ingest.build import build

    content = tmp_path / "content"
    shutil.copytree(ROOT / "tests" / "fixtures" / "content", content)
    build(content, tmp_path / "index", model="all-MiniLM-L6-v2")
    (content / "roc-auc.md").write_text((content / "roc-auc.md").read_text() + "\nChanged.\n")
    out = run("search", "--json", "--index", str(tmp_path / "index"), "auc")
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["stale"] is True and payload["results"][0]["question_id"] == "roc-auc"
    assert out.stderr.startswith("warning: ") and "roc-auc.md" in out.stderr and "python -m ingest" in out.stderr
    assert len(out.stderr.strip().splitlines()) == 1
    strict = run("search", "--strict", "--index", str(tmp_path / "index"), "auc")
    assert strict.returncode == 1 and "stale" in strict.stderr and "roc-auc.md" in strict.stderr
