"""Take it with you: questions as an Anki deck (.apkg) with genanki.

Front: the question's title. Back: the short answer, the explanation and the example, rendered from the bank's
Markdown with raw HTML escaped. The ids are derived, never random, so that a re-exported deck updates the
cards already in Anki instead of adding a second copy:

- the note type's id from its name and field names (its look may change without breaking updates),
- the deck's id from the deck's name,
- each note's guid from the question id alone (the same question is the same note in every deck we export).

`questions` are duck-typed: anything with .id, .title, .topics and .sections (each with .key and .text), which
both `index.Question` (`open_index().questions`) and `ingest.content.load_bank()` give.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import zipfile
import sqlite3
import tempfile
import time
from pathlib import Path
from typing import Iterable

import genanki
from markdown_it import MarkdownIt

from .errors import ProgressError

DECK_NAME = "ML interview prep"
MODEL_NAME = "ML interview prep question"
FIELDS = ("Question", "Answer", "Topics", "Id")
BACK_SECTIONS = (("short", "Short answer"), ("explanation", "Explanation"), ("example", "Example"))
CSS = """
.card { font: 18px/1.45 system-ui, sans-serif; color: #111; background: #fff; text-align: left;
        max-width: 42rem; margin: 0 auto; }
.question { font-size: 1.2em; font-weight: 600; }
.answer h4 { margin: 1em 0 .25em; font-size: .8em; text-transform: uppercase; letter-spacing: .05em; color: #555; }
.topics { color: #666; font-size: .75em; margin-top: 1.5em; }
pre, code { font-size: .9em; }
"""
_FRONT = '<div class="question">{{Question}}</div>'
_BACK = '{{FrontSide}}<hr id="answer"><div class="answer">{{Answer}}</div><div class="topics">{{Topics}}</div>'
# html=False: any HTML written in the bank is shown as text, never run inside Anki's web view
_MARKDOWN = MarkdownIt("commonmark", {"html": False})


def stable_id(*parts: str) -> int:
    """An Anki id in genanki's recommended range [2**30, 2**31) derived from `parts`."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).digest()
    return (1 << 30) + int.from_bytes(digest[:8], "big") % (1 << 30)


MODEL = genanki.Model(stable_id("model", MODEL_NAME, *FIELDS), MODEL_NAME,
                      fields=[{"name": f} for f in FIELDS],
                      templates=[{"name": "Question → answer", "qfmt": _FRONT, "afmt": _BACK}],
                      css=CSS, sort_field_index=0)


def weak_deck_name(learner: str) -> str:
    """The deck of one learner's weak questions: a subdeck of the bank's ("ML interview prep::weak (alice)")."""
    return f"{DECK_NAME}::weak ({learner})"


def _tag(topic: str) -> str:
    return "_".join(topic.split()) or "untagged"  # Anki tags cannot hold spaces


def note_for(question) -> genanki.Note:
    """One question as a note of MODEL, its guid derived from the question id."""
    texts = {s.key: s.text for s in question.sections}
    back = "".join(f"<h4>{heading}</h4>{_MARKDOWN.render(texts[key])}"
                   for key, heading in BACK_SECTIONS if texts.get(key, "").strip())
    topics = ", ".join(question.topics)
    return genanki.Note(model=MODEL, guid=genanki.guid_for("mlprep", question.id),
                        fields=[_MARKDOWN.renderInline(question.title), back, _MARKDOWN.renderInline(topics),
                                question.id],
                        tags=sorted({"mlprep", *(_tag(t) for t in question.topics)}))


def build_deck(questions: Iterable, deck_name: str = DECK_NAME) -> genanki.Deck:
    """The deck of `questions`, in the order given; its id derived from `deck_name`."""
    deck = genanki.Deck(stable_id("deck", deck_name), deck_name,
                        description="Questions from the ML interview prep bank (re-import to update them).")
    for question in questions:
        deck.add_note(note_for(question))
    return deck


def deck_bytes(questions: Iterable, deck_name: str = DECK_NAME, timestamp: float | None = None) -> bytes:
    """The .apkg file of `questions` as bytes. Raises ProgressError when there is nothing to export."""
    deck = build_deck(questions, deck_name)
    if not deck.notes:
        raise ProgressError(f"no questions to put in the deck {deck_name!r}; nothing was written")
    timestamp = time.time() if timestamp is None else timestamp
    # genanki's own write_to_file leaves its temporary database behind; this builds the same package in a
    # folder that is removed afterwards, and in memory, so the caller can write the file atomically.
    with tempfile.TemporaryDirectory(prefix="mlprep-anki-") as tmp:
        db = Path(tmp) / "collection.anki2"
        conn = sqlite3.connect(db)
        try:
            genanki.Package(deck).write_to_db(conn.cursor(), timestamp, itertools.count(int(timestamp * 1000)))
            conn.commit()
        finally:
            conn.close()
        out = io.BytesIO()
        with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as z:
            z.write(db, "collection.anki2")
            z.writestr("media", "{}")
    return out.getvalue()


def write_deck(questions: Iterable, out: Path, deck_name: str = DECK_NAME, timestamp: float | None = None) -> int:
    """Write `questions` as an Anki deck to `out` (atomically) and return how many notes it holds."""
    from index import atomic

    questions = list(questions)
    data = deck_bytes(questions, deck_name, timestamp)
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    atomic.write_bytes(out, data)
    return len(questions)
