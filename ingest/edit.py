"""Save a question from a form: validate, refuse what must not reach the disk, write atomically, keep a backup.

The app calls this module; it never imports streamlit. Every write checks `read_only()` itself, so a
server started with MLPREP_READONLY=1 refuses a forged request as firmly as a hidden form.

    content/<id>.md                         the question (or wherever in content/ the file with that id lives)
    content/.backups/<id>.<stamp>.md        a version replaced by a save or a restore (the scanner skips ".")

A save holds an exclusive lock on the content folder while it checks and writes, so two never interleave.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import re
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from index import atomic
from index.errors import ContentErrors, SearchToolError, UnknownQuestion
from index.store import content_files, sha256_bytes

from .content import FORM, FieldProblem, QuestionFields, check_fields, fields_of, id_problem, parse_bytes

READONLY_ENV = "MLPREP_READONLY"
BACKUPS = ".backups"
_STAMP = "%Y%m%dT%H%M%S"
_REINDEX = threading.Lock()  # one incremental build at a time per process; a later save waits for the earlier build


class EditRefused(SearchToolError):
    """A write that was refused (read-only server, unknown backup); nothing was written."""


@dataclass(frozen=True)
class SaveResult:
    """What a save did. `saved` is False when anything was refused; then `problems` says why and nothing was written."""

    question_id: str
    saved: bool
    problems: tuple[FieldProblem, ...] = ()
    path: Path | None = None  # the question's file
    sha256: str | None = None  # of the file as written: the `original_sha256` of the next edit
    backup: Path | None = None  # the replaced version, when there was one

    def by_field(self) -> dict[str, list[str]]:
        """{field: [messages]} for showing each problem under its input (FORM "" for the whole question)."""
        out: dict[str, list[str]] = {}
        for p in self.problems:
            out.setdefault(p.field, []).append(p.message)
        return out


@dataclass(frozen=True)
class Backup:
    question_id: str
    name: str  # the file name inside content/.backups/, what restore_backup takes
    path: Path
    saved_at: str  # UTC, "2026-12-01 21:30:05"


def read_only() -> bool:
    """True when MLPREP_READONLY is set to anything but "", "0", "false" or "no": then every write refuses."""
    return os.environ.get(READONLY_ENV, "").strip().lower() not in ("", "0", "false", "no")


def _read_only_refusal(qid: str) -> SaveResult:
    return SaveResult(qid, False, (FieldProblem(FORM, f"editing is switched off on this server ({READONLY_ENV} is "
                                                      "set); nothing was written"),))


def find_question_file(content_dir: Path, qid: str) -> Path | None:
    """The file holding question `qid` (its name is the id, in content/ or a subfolder), or None."""
    if id_problem(qid) is not None:
        return None
    direct = Path(content_dir) / f"{qid}.md"
    if direct.is_file():
        return direct
    return next((p for p in content_files(content_dir) if p.stem == qid), None)


def open_question(content_dir: Path, qid: str) -> tuple[QuestionFields, str]:
    """The fields of question `qid` for an edit form, and the SHA-256 of its file to pass back to save_question.

    Raises:
        UnknownQuestion: no file has that id.
        ContentErrors: the file on disk does not parse (fix it by hand first; the message says where).
    """
    path = find_question_file(content_dir, qid)
    if path is None:
        raise UnknownQuestion(qid, [])
    raw = path.read_bytes()
    question, errors = parse_bytes(raw, qid, str(path), path.relative_to(content_dir).as_posix())
    if errors:
        raise ContentErrors(errors)
    return fields_of(question), sha256_bytes(raw)


@contextlib.contextmanager
def _save_lock(content_dir: Path):
    # the lock is on the content folder itself, so a refused save leaves no file behind
    fd = os.open(content_dir, os.O_RDONLY)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # saves take milliseconds: wait rather than refuse
        yield
    finally:
        os.close(fd)


def _backup(content_dir: Path, qid: str, data: bytes) -> Path:
    now = time.time()
    stamp = time.strftime(_STAMP, time.gmtime(now)) + f".{int(now % 1 * 1e6):06d}Z"
    path = content_dir / BACKUPS / f"{qid}.{stamp}.md"
    path.parent.mkdir(exist_ok=True)
    atomic.create_bytes(path, data)
    return path


def _write(content_dir: Path, qid: str, raw: bytes, original_sha256: str | None) -> SaveResult:
    """Write `raw` (already validated) as question `qid`, refusing a collision or a changed file."""
    with _save_lock(content_dir):
        path = find_question_file(content_dir, qid)
        if original_sha256 is None:
            if path is not None:
                return SaveResult(qid, False, (FieldProblem("id", f"a question with the id {qid!r} already exists "
                                                                  f"({path.relative_to(content_dir).as_posix()}); "
                                                                  "choose another id, or edit that question"),))
            path = content_dir / f"{qid}.md"
            try:
                atomic.create_bytes(path, raw)
            except FileExistsError:  # created by another writer since the check above
                return SaveResult(qid, False, (FieldProblem("id", f"a question with the id {qid!r} was just created "
                                                                  "by someone else; choose another id"),))
            return SaveResult(qid, True, (), path, sha256_bytes(raw), None)
        if path is None:
            return SaveResult(qid, False, (FieldProblem(FORM, f"{qid}.md was deleted since you opened it; nothing was "
                                                              "written (save it as a new question to recreate it)"),))
        current = path.read_bytes()
        if sha256_bytes(current) != original_sha256:
            return SaveResult(qid, False, (FieldProblem(FORM, f"{path.relative_to(content_dir).as_posix()} changed on "
                                                              "disk since you opened it (another save or a hand edit); "
                                                              "nothing was written: reopen the question to see the "
                                                              "new version, then make your change again"),))
        if current == raw:
            return SaveResult(qid, True, (), path, original_sha256, None)
        backup = _backup(content_dir, qid, current)
        atomic.write_bytes(path, raw, mode=path.stat().st_mode & 0o777)
        return SaveResult(qid, True, (), path, sha256_bytes(raw), backup)


def save_question(content_dir: Path, qid: str, fields: QuestionFields, original_sha256: str | None = None,
                  ) -> SaveResult:
    """Validate a form and write it as content/<qid>.md.

    Args:
        content_dir: the content folder.
        qid: the question's id (the file name). Checked before anything touches the file system.
        fields: title, topics, aliases, the five sections, draft.
        original_sha256: None for a new question (the id must be free); for an edit, the SHA-256 the form was
            opened with (`open_question`), and the save is refused if the file changed since.
    Returns:
        SaveResult; when `saved` is False, `problems` holds every reason (per field) and nothing was written.
        An edit keeps the replaced version in content/.backups/.
    """
    content_dir = Path(content_dir)
    if read_only():
        return _read_only_refusal(qid)
    _, raw, problems = check_fields(qid, fields)
    if problems:
        return SaveResult(qid, False, tuple(problems))
    return _write(content_dir, qid, raw, original_sha256)


def list_backups(content_dir: Path, qid: str) -> list[Backup]:
    """The saved earlier versions of question `qid`, newest first."""
    if id_problem(qid) is not None:
        return []
    pattern = re.compile(rf"{re.escape(qid)}\.(\d{{8}}T\d{{6}})\.(\d{{6}})Z\.md")
    out = []
    folder = Path(content_dir) / BACKUPS
    for path in folder.glob(f"{qid}.*.md") if folder.is_dir() else ():
        m = pattern.fullmatch(path.name)
        if m:
            t = time.strptime(m.group(1), _STAMP)
            out.append(Backup(qid, path.name, path, time.strftime("%Y-%m-%d %H:%M:%S", t)))
    return sorted(out, key=lambda b: b.name, reverse=True)


def restore_backup(content_dir: Path, qid: str, name: str, original_sha256: str | None) -> SaveResult:
    """Put a backup back as question `qid`; the version it replaces becomes a backup in turn.

    Args:
        name: a `Backup.name` from list_backups (anything else is refused: no path reaches the disk).
        original_sha256: as in save_question (None: the question's file must not exist any more).
    Raises:
        EditRefused: the server is read-only, or `name` is not one of the question's backups.
    """
    content_dir = Path(content_dir)
    if read_only():
        raise EditRefused(_read_only_refusal(qid).problems[0].message)
    backup = next((b for b in list_backups(content_dir, qid) if b.name == name), None)
    if backup is None:
        raise EditRefused(f"{name!r} is not a backup of {qid!r}; list them with list_backups")
    raw = backup.path.read_bytes()
    _, errors = parse_bytes(raw, qid, str(backup.path), f"{qid}.md")
    if errors:
        return SaveResult(qid, False, tuple(FieldProblem(FORM, str(e)) for e in errors))
    return _write(content_dir, qid, raw, original_sha256)


def reindex(content_dir: Path, index_dir: Path, **build_options):
    """Bring the index up to date with the content folder after a save (ingest.build.build: only what changed
    is embedded). The published index keeps answering meanwhile: a reader holds the old version until it
    reopens. Saves from several sessions are built one after another, each seeing every earlier save.

    Returns the BuildReport. Raises what build raises (ContentErrors when a file in the folder is broken:
    nothing is published and the last good index stays live).
    """
    from .build import build

    with _REINDEX:
        return build(Path(content_dir), Path(index_dir), **build_options)
