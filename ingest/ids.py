"""Question ids: a question's id is its file name without ".md", so the rules are a file name's, kept portable.

`id_problem` says why a string cannot be an id (with the fix), `suggest_id` makes a valid one from a title or a
file name. The content parser, the editor and the importer all use these; content.py re-exports them.
"""

from __future__ import annotations

import re

ID_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")  # used with fullmatch: "$" would accept a trailing newline
MAX_ID_CHARS = 80  # leaves room under the 255-byte file-name limit for ".md" and a backup's timestamp
# Device names Windows refuses as file names whatever the extension; a bank must stay copyable there.
RESERVED_IDS = frozenset({"con", "prn", "aux", "nul", *(f"com{i}" for i in range(10)), *(f"lpt{i}" for i in range(10))})


def slugify(name: str) -> str:
    return re.sub(r"-+", "-", re.sub(r"[^a-z0-9]+", "-", name.lower())).strip("-") or "question"


def suggest_id(name: str) -> str:
    """A valid id close to `name`: slugified, cut at a hyphen under MAX_ID_CHARS, never a reserved name."""
    qid = slugify(name)
    if len(qid) > MAX_ID_CHARS:
        qid = qid[:MAX_ID_CHARS + 1].rsplit("-", 1)[0] if "-" in qid[:MAX_ID_CHARS + 1] else qid[:MAX_ID_CHARS]
    return f"{qid}-question" if qid in RESERVED_IDS else qid


def id_problem(qid: str) -> str | None:
    """Why `qid` cannot be a question id (and so a file name), or None when it can."""
    if not qid:
        return "is empty; it must be lowercase words joined by hyphens"
    if len(qid) > MAX_ID_CHARS:
        return f"is {len(qid)} characters; keep it to {MAX_ID_CHARS} at most"
    if not ID_PATTERN.fullmatch(qid):
        return "must be lowercase words joined by hyphens (letters a-z and digits only)"
    if qid in RESERVED_IDS:
        return f"is {qid!r}, a reserved device name on Windows; choose another"
    return None
