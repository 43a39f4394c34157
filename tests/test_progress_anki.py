"""Anki export (progress.anki) and the progress command line (python -m progress)."""

from __future__ import annotations

import json
import sqlite3
import subprocess
import sys
import zipfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

import genanki
import pytest

from index.model import Question, Section
from progress import anki
from progress.__main__ import main
from progress.errors import ProgressError

ROOT = Path(__file__).resolve().parent.parent
NOW = datetime(2026, 12, 1, 9, 0, tzinfo=timezone.utc)


def question(qid: str, title: str = "What is it?", short: str = "It is **this**.") -> Question:
    sections = [("short", short), ("explanation", "Because\n\n- one\n- two"), ("example", "`x = 1`"),
                ("mistakes", "Never shown on the card"), ("story", "Nor this")]
    return Question(qid, title, ("deep learning", "nlp"), (), f"{qid}.md",
                    tuple(Section(key, key.title(), text) for key, text in sections))


def read_deck(path: Path) -> dict:
    """The parts of an .apkg that Anki reads when importing: notes, their guids and fields, models, decks."""
    folder = path.parent / (path.name + ".unzipped")
    with zipfile.ZipFile(path) as z:
        z.extract("collection.anki2", folder)
    conn = sqlite3.connect(folder / "collection.anki2")
    notes = conn.execute("SELECT guid, mid, flds, tags FROM notes ORDER BY id").fetchall()
    models, decks = conn.execute("SELECT models, decks FROM col").fetchone()
    cards = conn.execute("SELECT did FROM cards").fetchall()
    conn.close()
    return {"notes": [{"guid": g, "model": m, "fields": f.split("\x1f"), "tags": t.split()} for g, m, f, t in notes],
            "models": {int(k): v for k, v in json.loads(models).items()},
            "decks": {int(k): v["name"] for k, v in json.loads(decks).items()},
            "card_decks": {d for (d,) in cards}}


def test_a_deck_has_title_front_and_answer_back_with_ids_from_content(tmp_path):
    out = tmp_path / "deck.apkg"
    assert anki.write_deck([question("q-one"), question("q-two", "Why?")], out) == 2
    deck = read_deck(out)
    assert [n["guid"] for n in deck["notes"]] == [genanki.guid_for("mlprep", "q-one"),
                                                  genanki.guid_for("mlprep", "q-two")]
    front, back, topics, qid = deck["notes"][0]["fields"]
    assert front == "What is it?" and qid == "q-one" and topics == "deep learning, nlp"
    assert "<strong>this</strong>" in back and "<li>one</li>" in back and "<code>x = 1</code>" in back
    assert "Never shown" not in back and "Nor this" not in back
    assert back.index("Short answer") < back.index("Explanation") < back.index("Example")
    assert deck["notes"][0]["tags"] == ["deep_learning", "mlprep", "nlp"]
    assert anki.MODEL.model_id in deck["models"] and deck["notes"][0]["model"] == anki.MODEL.model_id
    deck_id = anki.stable_id("deck", anki.DECK_NAME)
    assert deck["decks"][deck_id] == anki.DECK_NAME and deck["card_decks"] == {deck_id}
    assert (1 << 30) <= anki.MODEL.model_id < (1 << 31) and (1 << 30) <= deck_id < (1 << 31)


def test_exporting_again_gives_the_same_ids_so_anki_updates_instead_of_duplicating(tmp_path):
    first, second = tmp_path / "a.apkg", tmp_path / "b.apkg"
    anki.write_deck([question("q-one")], first, timestamp=1_700_000_000)
    anki.write_deck([question("q-one", short="A better answer."), question("q-two")], second)
    a, b = read_deck(first), read_deck(second)
    assert a["notes"][0]["guid"] == b["notes"][0]["guid"] and set(a["models"]) == set(b["models"])
    assert set(a["decks"]) == set(b["decks"])
    assert "A better answer." in b["notes"][0]["fields"][1]
    # the weak deck is another deck, with the same notes
    anki.write_deck([question("q-one")], tmp_path / "w.apkg", anki.weak_deck_name("alice"))
    w = read_deck(tmp_path / "w.apkg")
    assert w["notes"][0]["guid"] == a["notes"][0]["guid"] and set(w["decks"]) != set(a["decks"])
    assert anki.weak_deck_name("alice") in w["decks"].values()


def test_html_in_the_bank_is_shown_as_text_never_run(tmp_path):
    out = tmp_path / "deck.apkg"
    anki.write_deck([question("q-x", "Is <script>alert(1)</script> safe?", "<img src=x onerror=alert(1)>")], out)
    front, back, *_ = read_deck(out)["notes"][0]["fields"]
    assert "<script>" not in front and "&lt;script&gt;" in front
    assert "<img" not in back and "&lt;img" in back


def test_an_empty_export_writes_nothing(tmp_path):
    out = tmp_path / "deck.apkg"
    with pytest.raises(ProgressError, match="nothing was written"):
        anki.write_deck([], out)
    assert not out.exists()


def test_the_whole_bank_exports_from_the_content_folder(tmp_path):
    from ingest.content import load_bank

    bank = load_bank(ROOT / "content")
    out = tmp_path / "bank.apkg"
    assert anki.write_deck(bank, out) == len(bank) == 15
    notes = read_deck(out)["notes"]
    assert [n["fields"][3] for n in notes] == [q.id for q in bank]
    assert all(n["fields"][1].count("<h4>") == 3 for n in notes)


# -- the command line --------------------------------------------------------------------------------------

def run(capsys, *argv) -> tuple[int, str, str]:
    code = main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def test_cli_review_status_check_and_weak_export(tmp_path, capsys, content_dir):
    db = str(tmp_path / "progress.db")
    base = ["--database", db]
    ids = sorted(p.stem for p in content_dir.glob("*.md") if not p.name.startswith(("_", ".")))
    assert len(ids) >= 2
    code, out, _ = run(capsys, *base, "review", "--learner", "alice", ids[0], "again", "--now", NOW.isoformat())
    assert code == 0 and "learning" in out
    later = (NOW + timedelta(days=1)).isoformat()
    code, out, _ = run(capsys, *base, "status", "--learner", "Alice", "--content", str(content_dir), "--json",
                       "--now", later, "--interview", "2026-12-20")
    status = json.loads(out)
    assert status["queue"][0] == ids[0] and status["counts"]["new"] == len(ids) - 1 and status["reviews"] == 1
    assert status["days_left"] == 18 and status["left_before_interview"] >= len(ids)
    code, out, _ = run(capsys, *base, "check", "--learner", "alice")
    assert code == 0 and "follow from their 1 review" in out
    deck = tmp_path / "weak.apkg"
    code, out, _ = run(capsys, *base, "export-anki", "--learner", "alice", "--weak", "--out", str(deck),
                       "--content", str(content_dir), "--now", later)
    assert code == 0 and "wrote 1 question to" in out
    assert [n["fields"][3] for n in read_deck(deck)["notes"]] == [ids[0]]
    code, _, err = run(capsys, *base, "export-anki", "--learner", "bob", "--weak", "--out", str(tmp_path / "b.apkg"),
                       "--content", str(content_dir))
    assert code == 1 and "bob has no weak questions" in err and not (tmp_path / "b.apkg").exists()


def test_cli_errors_are_one_line_and_exit_1(tmp_path, capsys):
    db = tmp_path / "progress.db"
    code, _, err = run(capsys, "--database", str(db), "review", "--learner", "../x", "feature-leakage", "good")
    assert code == 1 and err.startswith("error: the learner name has characters") and err.count("\n") == 1
    db.write_bytes(b"garbage" * 200)
    code, _, err = run(capsys, "--database", str(db), "status", "--learner", "alice")
    assert code == 1 and "is damaged" in err and err.count("\n") == 1


def test_cli_imports_the_old_tally_once(tmp_path, capsys):
    tally = tmp_path / "practice.json"
    tally.write_text(json.dumps({"version": 1, "questions": {
        "feature-leakage": {"knew": 1, "shaky": 0, "last": "knew", "at": NOW.timestamp()}}}))
    base = ["--database", str(tmp_path / "progress.db")]
    assert run(capsys, *base, "import-practice", str(tally))[1].startswith("imported 1 marks on 1 questions")
    assert "already imported" in run(capsys, *base, "import-practice", str(tally))[1]


def test_python_dash_m_progress_runs(tmp_path):
    done = subprocess.run([sys.executable, "-m", "progress", "--database", str(tmp_path / "p.db"), "status",
                           "--learner", "alice", "--json"], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["questions"] == 15
