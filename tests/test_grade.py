"""The answer check: its command-line contract, its ordering of labelled answers, its misconception rules."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from progress.claims import answer_parts, claims, mistake_beliefs, says_mistake

ROOT = Path(__file__).resolve().parent.parent

STRONG = ("Overfitting is the model memorizing its training set, noise and all, instead of learning patterns that "
          "carry over, so it does badly on data it hasn't seen. You see it as a gap: very high training accuracy "
          "but clearly worse validation accuracy. To prevent it you add L1 or L2 regularization, use dropout, "
          "stop training early when the validation loss stops improving, get more data or augment it, or use a "
          "simpler model. In bias variance terms overfitting is high variance and underfitting is high bias.")


def run(*args, stdin: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "index", "grade", *args], cwd=ROOT, input=stdin,
                          capture_output=True, text=True, timeout=120, env={**os.environ, "PYTHONUNBUFFERED": "1"})


# ---------------------------------------------------------------- pure rules (no model)
def test_claims_split_a_list_into_its_items_and_keep_a_plain_sentence_whole():
    text = ("Prevention techniques: regularization (L1/L2 add penalty terms), dropout (randomly deactivating "
            "neurons), early stopping (halt training) and data augmentation (more data). A model overfits when it "
            "memorizes examples.")
    assert claims(text) == ["regularization (L1/L2 add penalty terms)", "dropout (randomly deactivating neurons)",
                            "early stopping (halt training)", "data augmentation (more data)",
                            "A model overfits when it memorizes examples"]
    broken = "Detecting concept drift: monitor prediction shifts and, when labels are available, track accuracy."
    assert claims(broken) == [broken.rstrip(".")]


def test_mistake_beliefs_keep_the_belief_and_say_how_it_is_voiced():
    text = ("Thinking attention has O(n) complexity — it is O(n2) in sequence length. Not shuffling training "
            "data before each epoch. Confusing static word embeddings (Word2Vec) with contextual embeddings (BERT).")
    assert mistake_beliefs(text) == [("attention has O(n) complexity", "claim"),
                                     ("Not shuffling training data before each epoch", "omission"),
                                     ("Confusing static word embeddings with contextual embeddings", "confusion")]


def test_a_mistake_is_said_with_its_polarity():
    assert says_mistake("you don't need to shuffle the data", "omission")
    assert not says_mistake("shuffle the data before every epoch", "omission")
    assert says_mistake("attention is linear, O(n)", "claim")
    assert not says_mistake("attention is not O(n), it is quadratic", "claim")
    assert says_mistake("clustering is basically classification", "confusion")
    assert not says_mistake("clustering is unsupervised whereas classification needs labels", "confusion")


def test_answer_parts_cover_sentences_clauses_and_joints():
    parts = dict(answer_parts("Boosting is sequential, whereas a forest grows trees in parallel. Yes."))
    assert "Boosting is sequential, whereas a forest grows trees in parallel." in parts
    assert "a forest grows trees in parallel" in parts  # a clause, with the sentence it came from
    assert parts["a forest grows trees in parallel"].startswith("Boosting")
    assert "Yes." not in parts  # too short to say anything


# ---------------------------------------------------------------- the real model
@pytest.fixture(scope="module")
def grader(real_index):
    from index import open_index
    from progress.grade import Grader

    return Grader(open_index(real_index))


@pytest.mark.model
def test_cli_json_follows_the_contract(real_index):
    out = run("--json", "--index", str(real_index), "overfitting", stdin=STRONG)
    assert out.returncode == 0, out.stderr
    payload = json.loads(out.stdout)
    assert payload["question_id"] == "overfitting"
    assert 0.0 <= payload["score"] <= 1.0
    assert 4 <= len(payload["points"]) <= 8
    for point in payload["points"]:
        assert set(point) == {"text", "covered", "score", "evidence"}
        assert isinstance(point["covered"], bool) and 0.0 <= point["score"] <= 1.0
        assert (point["evidence"] != "") == point["covered"]
        if point["covered"]:
            assert point["evidence"].strip(" .,") in STRONG
    assert sum(p["covered"] for p in payload["points"]) >= len(payload["points"]) // 2
    assert payload["verdict"].startswith("Strong")


@pytest.mark.model
def test_cli_readable_report(real_index):
    out = run("--index", str(real_index), "overfitting",
              stdin="Overfitting is when the model learns the noise in the training data and does badly on new data.")
    assert out.returncode == 0, out.stderr
    assert "[overfitting]" in out.stdout and "covered" in out.stdout and "missed" in out.stdout
    assert "Coverage " in out.stdout and "Read the explanation." in out.stdout
    assert "cannot judge" in out.stdout  # what the check cannot judge is said beside every result


@pytest.mark.model
@pytest.mark.parametrize("args, stdin, message", [
    (("overfitting",), "   \n\t\n", "blank"),
    (("overfiting",), "an answer about something", "unknown question id 'overfiting'; did you mean overfitting"),
])
def test_cli_blank_answer_or_unknown_id_is_one_line_and_exit_1(real_index, args, stdin, message):
    out = run("--json", "--index", str(real_index), *args, stdin=stdin)
    assert out.returncode == 1
    assert out.stdout == ""
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0]


@pytest.mark.model
def test_cli_missing_index_is_one_line_and_exit_1(tmp_path):
    out = run("--index", str(tmp_path / "nowhere"), "overfitting", stdin=STRONG)
    assert out.returncode == 1 and len(out.stderr.strip().splitlines()) == 1 and "python -m ingest" in out.stderr


@pytest.mark.model
def test_labelled_answers_rank_strong_above_partial_above_other(grader):
    from bench.grading import load_answers

    for q in load_answers(grader.index):
        by = {k: [grader.grade(q.id, a.text, points=list(q.points)).score for a in q.answers if a.kind == k]
              for k in ("strong", "partial", "other")}
        assert min(by["strong"]) > max(by["partial"]), q.id
        assert sum(by["partial"]) > sum(by["other"]), q.id
        # with the grader's own key points (what the CLI and the app use) strong still beats another question's
        own = {k: [grader.grade(q.id, a.text).score for a in q.answers if a.kind == k] for k in ("strong", "other")}
        assert min(own["strong"]) > max(own["other"]) + 0.2, q.id


@pytest.mark.model
def test_a_listed_mistake_costs_the_answer_and_its_correction_does_not(grader):
    right = "Boosting adds trees sequentially on the residuals, and you should use early stopping."
    wrong = "Boosting adds trees sequentially on the residuals, and there's no need for early stopping."
    good, bad = grader.grade("gradient-boosting", right), grader.grade("gradient-boosting", wrong)
    assert not good.misconceptions
    assert [m.mistake for m in bad.misconceptions] == ["Ignoring early stopping"]
    assert bad.score < good.score and bad.rating == "again"


@pytest.mark.model
def test_key_points_are_verbatim_claims_of_the_model_answer(grader):
    for q in grader.index.questions:
        model = " ".join(s.text for s in q.sections if s.key in ("short", "explanation"))
        points = grader.key_points(q.id)
        assert 4 <= len(points) <= 8, q.id
        assert all(p in model for p in points), q.id


@pytest.mark.model
def test_grading_is_deterministic(real_index):
    from index import open_index
    from progress.grade import Grader

    first = Grader(open_index(real_index)).grade("overfitting", STRONG).to_json()
    again = Grader(open_index(real_index)).grade("overfitting", STRONG).to_json()
    assert first == again


@pytest.mark.model
def test_blank_unknown_and_overlong_answers_raise_errors_that_say_what_to_do(grader):
    from index import QueryError, UnknownQuestion

    with pytest.raises(QueryError, match="blank"):
        grader.grade("overfitting", " \n ")
    with pytest.raises(UnknownQuestion):
        grader.grade("no-such-question", STRONG)
    with pytest.raises(QueryError, match="one answer at a time"):
        grader.grade("overfitting", STRONG * 40)


def test_a_short_claim_that_refers_back_is_joined_to_the_one_before():
    from progress.claims import claims

    got = claims("RNNs are slow and forget distant tokens. Attention solves both. Self-attention looks at every token.")
    assert got == ["RNNs are slow and forget distant tokens. Attention solves both", "Self-attention looks at every token"]
