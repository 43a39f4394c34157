"""What ingest embeds from a question: its chunks (one per section), its sentences, its names and its title field.

The texts are recorded in the manifest ("chunking"), so an index says how its vectors were made.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .content import SECTIONS, ParsedQuestion

EMBED_TEMPLATE = "{title}\n{heading}: {text}"  # what a section's vector is computed from
TITLE_TEMPLATE = "{title}\nAlso called: {aliases}"  # what a question's title vector is computed from
# A section is also embedded sentence by sentence: all-MiniLM-L6-v2 is a sentence model, and one vector for a
# whole section blurs the one sentence a paraphrase is about. Split after . ! ? before a capital or digit.
SENTENCE_SPLIT = r"(?<=[.!?])\s+(?=[A-Z0-9\"'(])"


@dataclass(frozen=True)
class Chunk:
    id: str  # "<question id>#<section key>"
    question_id: str
    section: str
    embed_text: str


def section_text(title: str, heading: str, text: str) -> str:
    """The text a section's vector is computed from: its question's title, its heading and its text."""
    return EMBED_TEMPLATE.format(title=title, heading=heading, text=text)


def chunk(question: ParsedQuestion) -> list[Chunk]:
    """One chunk per section, id from content: `feature-leakage#mistakes`."""
    return [Chunk(f"{question.id}#{s.key}", question.id, s.key, section_text(question.title, s.heading, s.text))
            for s in question.sections]


def sentences(question: ParsedQuestion) -> list[tuple[str, str]]:
    """(chunk id, sentence) for every sentence of every section, in chunk order."""
    return [(f"{question.id}#{s.key}", text) for s in question.sections
            for text in (t.strip() for t in re.split(SENTENCE_SPLIT, s.text)) if text]


def names(question: ParsedQuestion) -> list[str]:
    """The names a question goes by, each embedded alone: its title and every alias."""
    return list(dict.fromkeys([question.title, *question.aliases]))


def title_text(question: ParsedQuestion) -> str:
    """The text a question's title vector is computed from: its title and its aliases."""
    return TITLE_TEMPLATE.format(title=question.title, aliases=", ".join(question.aliases) or "-")


def chunking_config() -> dict:
    """The manifest's "chunking" entry: the sections and how each text to embed is made."""
    return {"sections": [list(s) for s in SECTIONS], "embed_template": EMBED_TEMPLATE,
            "title_template": TITLE_TEMPLATE, "sentence_split": SENTENCE_SPLIT}
