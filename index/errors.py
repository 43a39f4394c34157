"""Errors that the command line and the app turn into one clear line.

Every message says what is wrong and how to fix it; callers at the edge
(`index.cli`, `ingest.__main__`, `app.py`) print `str(error)` and exit non-zero.
"""

from __future__ import annotations

from dataclasses import dataclass


class SearchToolError(Exception):
    """Base class: an expected failure with a message meant for the user."""


class IndexMissing(SearchToolError):
    def __init__(self, path):
        super().__init__(f"no index at {path}: build it with `python -m ingest --index {path}` (or `make index`)")
        self.path = path


class IndexStale(SearchToolError):
    """The content folder changed since the index was built (files added, edited, removed, or broken)."""

    def __init__(self, path, changed: list[str], content_dir=None):
        self.path = path
        self.changed = changed
        self.content_dir = content_dir
        super().__init__(f"the index at {path} is stale (content changed since it was built: {self._shown}); "
                         f"rebuild it with {self._fix}")

    @property
    def _shown(self) -> str:
        changed = self.changed
        return ", ".join(changed[:5]) + (f" and {len(changed) - 5} more" if len(changed) > 5 else "")

    @property
    def _fix(self) -> str:
        content = f" --content {self.content_dir}" if self.content_dir else ""
        return f"`python -m ingest{content} --index {self.path}` (or `make index`)"

    @property
    def warning(self) -> str:
        """One line for a tool that answers from the last good index anyway: what changed and how to update it."""
        n = len(self.changed)
        where = self.content_dir or "its content folder"
        return (f"the index at {self.path} is older than {where} ({n} file{'s' if n != 1 else ''} changed: "
                f"{self._shown}); answers come from the last good index; run {self._fix} to update it")


class IndexDamaged(SearchToolError):
    def __init__(self, path, problem: str):
        super().__init__(f"the index at {path} is damaged ({problem}); rebuild it with "
                         f"`python -m ingest --index {path}` (or `make index`)")
        self.path = path
        self.problem = problem


class ModelError(SearchToolError):
    """The embedding model cannot be found, loaded or trusted."""


class QueryError(SearchToolError):
    """A query that cannot be answered as asked (blank, bad filter, bad k)."""


class UnknownQuestion(SearchToolError):
    def __init__(self, question_id: str, suggestions: list[str]):
        hint = f"; did you mean {', '.join(suggestions)}?" if suggestions else "; list them with `python -m index related`"
        super().__init__(f"unknown question id {question_id!r}{hint}")
        self.question_id = question_id


@dataclass(frozen=True)
class ContentError:
    """One problem in one content file, at a line (1-based; 0 when the whole file is at fault)."""

    path: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.message}" if self.line else f"{self.path}: {self.message}"


class ContentErrors(SearchToolError):
    """Every problem found in the content folder, reported together."""

    def __init__(self, errors: list[ContentError]):
        self.errors = sorted(errors, key=lambda e: (e.path, e.line, e.message))
        n = len(self.errors)
        lines = "\n".join(str(e) for e in self.errors)
        super().__init__(f"{lines}\n{n} problem{'s' if n != 1 else ''} in the content; nothing was written, "
                         "the current index is unchanged")
