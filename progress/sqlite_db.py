"""The progress database in one SQLite file (the default: build/progress.db, or MLPREP_DATABASE)."""

from __future__ import annotations

import sqlite3
import time
from datetime import datetime, timezone
from pathlib import Path

from . import schedule
from .backend import Backend
from .errors import ProgressDamaged, ProgressLocked, ProgressUnavailable


class SQLite(Backend):
    dialect = "sqlite"

    def __init__(self, path: Path, lock_timeout_s: float):
        self.path = Path(path)
        self.where = str(self.path)
        self.lock_timeout_s = lock_timeout_s

    def connect(self):
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise ProgressUnavailable(self.where, f"cannot create its folder: {e.strerror or e}",
                                      "create the folder or set MLPREP_DATABASE to a writable path") from e
        # isolation_level=None: transactions are begun explicitly (BEGIN IMMEDIATE), never implicitly.
        conn = sqlite3.connect(self.path, timeout=self.lock_timeout_s, isolation_level=None, check_same_thread=False)
        try:
            conn.execute(f"PRAGMA busy_timeout = {int(self.lock_timeout_s * 1000)}")
            self._wal(conn)
            conn.execute("PRAGMA synchronous = FULL")  # a recorded review survives a power cut, not only a crash
            conn.execute("PRAGMA foreign_keys = ON")
        except BaseException:
            conn.close()
            raise
        return conn

    def _wal(self, conn) -> None:
        """Switch to WAL. SQLite does not call the busy handler for this switch: while another connection is creating
        the same new database it fails at once with "database is locked", so it is retried until lock_timeout_s."""
        deadline = time.monotonic() + self.lock_timeout_s
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) or time.monotonic() >= deadline:
                    raise
                time.sleep(0.01)

    def begin_write(self, conn) -> None:
        # IMMEDIATE takes the write lock first, so the card read below is the latest one when the row is written.
        conn.execute("BEGIN IMMEDIATE")

    def lock(self, cur, key: int) -> None:
        pass  # BEGIN IMMEDIATE already serializes every writer

    def tables(self, cur) -> set[str]:
        return {row[0] for row in cur.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}

    def check(self, conn) -> None:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check")]
        if problems != ["ok"]:
            raise ProgressDamaged(self.where, "; ".join(problems[:3]))

    def encode_time(self, moment: datetime) -> str:
        # Fixed-width ISO-8601 in UTC sorts as text in time order and round-trips to the microsecond.
        return schedule.utc(moment).isoformat(timespec="microseconds")

    def decode_time(self, value) -> datetime:
        return datetime.fromisoformat(value).astimezone(timezone.utc)

    def translate(self, error):
        if not isinstance(error, sqlite3.Error):
            return None
        text = str(error)
        low = text.lower()
        if "locked" in low or "busy" in low:
            return ProgressLocked(self.where, self.lock_timeout_s, text)
        if "not a database" in low or "malformed" in low or "corrupt" in low:
            return ProgressDamaged(self.where, text)
        if "readonly" in low or "read-only" in low or "unable to open" in low or "disk i/o" in low:
            return ProgressUnavailable(self.where, text, "check that the file and its folder are writable, "
                                       "or set MLPREP_DATABASE to another path")
        if "full" in low:
            return ProgressUnavailable(self.where, text, "free some disk space")
        return ProgressUnavailable(self.where, text, "check the file, or set MLPREP_DATABASE to another path")
