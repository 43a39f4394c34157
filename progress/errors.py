"""Errors of the progress database that the command line and the app turn into one clear line.

Every message says what is wrong and how to fix it, and none of them concerns the question bank or the
index: a broken progress database never stops searching or reading. Callers at the edge print `str(error)`.
"""

from __future__ import annotations

UNAFFECTED = "The question bank and the index are not affected"


class ProgressError(Exception):
    """Base class: an expected failure of the progress database, with a message meant for the user."""

    def __init__(self, message: str, where: str | None = None, problem: str | None = None):
        super().__init__(message)
        self.where = where  # the database (a path, or a URL without its password), when the database is at fault
        self.problem = problem  # what the database driver said


class InvalidLearner(ProgressError, ValueError):
    """A learner name that cannot be used (empty, too long, or with characters outside the allowed set)."""


class InvalidRating(ProgressError, ValueError):
    """A rating that is not one of Again, Hard, Good, Easy."""


class InvalidQuestionId(ProgressError, ValueError):
    """A question id that is not one (ids are lowercase words joined by hyphens, from content/<id>.md)."""


class ProgressLocked(ProgressError):
    def __init__(self, where: str, waited_s: float, problem: str = ""):
        super().__init__(f"the progress database {where} stayed locked for {waited_s:g} s"
                         f"{f' ({problem})' if problem else ''}: another program holds a write transaction open "
                         "(an open `sqlite3` shell, a stuck process); close it and try again. Nothing was recorded. "
                         + UNAFFECTED, where, problem)


class ProgressDamaged(ProgressError):
    def __init__(self, where: str, problem: str, fix: str | None = None):
        fix = fix or (f"move it aside (`mv {where} {where}.broken`, and its -wal and -shm files if there are any) "
                      "and start again with an empty history, or restore it from a backup")
        super().__init__(f"the progress database {where} is damaged ({problem}); {fix}. {UNAFFECTED}", where, problem)


class ProgressUnavailable(ProgressError):
    def __init__(self, where: str, problem: str, fix: str):
        super().__init__(f"cannot use the progress database {where} ({problem}); {fix}. {UNAFFECTED}", where, problem)


class ProgressSchemaTooNew(ProgressError):
    def __init__(self, where: str, found: int, supported: int):
        super().__init__(f"the progress database {where} has schema version {found}, newer than this program "
                         f"understands ({supported}); update the program (git pull, `make run`), or point "
                         "MLPREP_DATABASE / MLPREP_DATABASE_URL at another database", where)
        self.found = found
