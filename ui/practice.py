"""Practice ("quiz me"): the tally of "knew it" / "shaky" marks, kept in a JSON file so it survives a reload,
and the choice of the next question (shaky ones first, then unseen, then the longest-ago known)."""

from __future__ import annotations

import json
import random
import threading
import time
from pathlib import Path

from index import atomic

MARKS = ("knew", "shaky")
_LOCK = threading.Lock()  # one server process, several sessions: marks are read-modify-write


class TallyStore:
    """The practice tally in one JSON file: {"questions": {id: {"knew": n, "shaky": n, "last": mark, "at": t}}}.

    A missing or unreadable file reads as an empty tally (a damaged file is never fatal to practising);
    writes are atomic (temporary file + os.replace).
    """

    def __init__(self, path: Path):
        self.path = Path(path)

    def load(self) -> dict[str, dict]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
            questions = data.get("questions", {}) if isinstance(data, dict) else {}
            return {qid: rec for qid, rec in questions.items() if isinstance(rec, dict) and rec.get("last") in MARKS}
        except (OSError, ValueError):
            return {}

    def mark(self, question_id: str, mark: str, now: float | None = None) -> dict[str, dict]:
        """Record `mark` ("knew" or "shaky") for a question and return the new tally."""
        if mark not in MARKS:
            raise ValueError(f"mark must be one of {', '.join(MARKS)}, not {mark!r}")
        with _LOCK:
            tally = self.load()
            rec = tally.setdefault(question_id, {"knew": 0, "shaky": 0})
            rec[mark] = int(rec.get(mark, 0)) + 1
            rec["last"] = mark
            rec["at"] = time.time() if now is None else now
            self._write(tally)
            return tally

    def reset(self) -> None:
        with _LOCK:
            self._write({})

    def _write(self, tally: dict) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        atomic.write_text(self.path, json.dumps({"version": 1, "questions": tally}, indent=1, sort_keys=True))


def next_question(pool: list[str], tally: dict[str, dict], rng: random.Random | None = None,
                  exclude: str | None = None) -> str | None:
    """The next question to practise from `pool`: shaky ones first (longest ago first), then unseen ones
    (at random), then known ones (longest ago first). `exclude` (the current question) is skipped unless it is
    the only one. Returns None for an empty pool."""
    rng = rng or random.Random()
    candidates = [q for q in dict.fromkeys(pool) if q != exclude] or list(dict.fromkeys(pool))
    if not candidates:
        return None
    shaky = sorted((q for q in candidates if tally.get(q, {}).get("last") == "shaky"),
                   key=lambda q: tally[q].get("at", 0))
    if shaky:
        return shaky[0]
    unseen = [q for q in candidates if q not in tally]
    if unseen:
        return rng.choice(unseen)
    return min(candidates, key=lambda q: tally[q].get("at", 0))


def summary(pool: list[str], tally: dict[str, dict]) -> dict[str, int]:
    """{"knew": n, "shaky": n, "unseen": n} over the questions in `pool`, by each one's last mark."""
    out = {"knew": 0, "shaky": 0, "unseen": 0}
    for q in dict.fromkeys(pool):
        out[tally[q]["last"] if q in tally else "unseen"] += 1
    return out
