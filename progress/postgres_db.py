"""The progress database on a PostgreSQL server (MLPREP_DATABASE_URL). psycopg is imported only when one is used."""

from __future__ import annotations

import contextlib
from datetime import datetime, timezone
from urllib.parse import urlsplit, urlunsplit

from . import schedule
from .backend import Backend
from .errors import ProgressDamaged, ProgressLocked, ProgressUnavailable


class Postgres(Backend):
    dialect = "postgresql"

    def __init__(self, url: str, lock_timeout_s: float):
        self.url = url
        self.where = redact(url)
        self.lock_timeout_s = lock_timeout_s

    def connect(self):
        import psycopg
        from psycopg.conninfo import conninfo_to_dict

        # Added to the URL's own options (a search_path, say), never replacing them.
        given = conninfo_to_dict(self.url).get("options") or ""
        options = f"{given} -c lock_timeout={int(self.lock_timeout_s * 1000)} -c TimeZone=UTC".strip()
        return psycopg.connect(self.url, autocommit=True, connect_timeout=max(1, int(self.lock_timeout_s)),
                               options=options)

    def begin_write(self, conn) -> None:
        conn.execute("BEGIN")

    def lock(self, cur, key: int) -> None:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (key,))  # released at commit or rollback

    def tables(self, cur) -> set[str]:
        cur.execute("SELECT table_name FROM information_schema.tables WHERE table_schema = current_schema()")
        return {row[0] for row in cur.fetchall()}

    def check(self, conn) -> None:
        pass  # the server checks its own pages; a damaged one reports data_corrupted, translated below

    def sql(self, text: str) -> str:
        return text.replace("?", "%s")

    def encode_time(self, moment: datetime) -> datetime:
        return schedule.utc(moment)

    def decode_time(self, value) -> datetime:
        return value.astimezone(timezone.utc)

    def broken(self, conn) -> bool:
        return conn.closed or conn.broken

    def usable(self, conn) -> bool:
        # A server restart or an idle timeout kills pooled connections silently; one round trip finds out before
        # a review is sent down a dead one.
        import psycopg

        try:
            conn.execute("SELECT 1")
            return True
        except psycopg.Error:
            with contextlib.suppress(Exception):
                conn.close()
            return False

    def translate(self, error):
        import psycopg
        from psycopg import errors as pg

        if not isinstance(error, psycopg.Error):
            return None
        text = " ".join(str(error).split())
        if isinstance(error, (pg.LockNotAvailable, pg.QueryCanceled, pg.DeadlockDetected)):
            return ProgressLocked(self.where, self.lock_timeout_s, text)
        if isinstance(error, (pg.DataCorrupted, pg.IndexCorrupted)):
            return ProgressDamaged(self.where, text, "restore the database from a backup (or point "
                                   "MLPREP_DATABASE_URL at a new, empty database)")
        if isinstance(error, pg.InsufficientPrivilege):
            return ProgressUnavailable(self.where, text, "grant the user CREATE and SELECT/INSERT on the database")
        return ProgressUnavailable(self.where, text, "check that the server is running and MLPREP_DATABASE_URL "
                                   "is right, or unset it to use the embedded SQLite file")


def redact(url: str) -> str:
    """`url` with any password replaced by ***, for messages."""
    try:
        parts = urlsplit(url)
        if parts.password:
            user = parts.username or ""
            host = parts.hostname or ""
            port = f":{parts.port}" if parts.port else ""
            return urlunsplit(parts._replace(netloc=f"{user}:***@{host}{port}"))
    except ValueError:
        return "the PostgreSQL database in MLPREP_DATABASE_URL"
    return url
