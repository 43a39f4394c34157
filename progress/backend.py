"""What differs between the progress database's engines (SQLite, PostgreSQL): connecting, transactions, locks,
times and error messages. `progress.sqlite_db` and `progress.postgres_db` implement it; `progress.store` uses it.
"""

from __future__ import annotations

from datetime import datetime

from .errors import ProgressError


class Backend:
    """What differs between SQLite and PostgreSQL: connecting, transactions, locks, times and error messages."""

    dialect: str
    where: str

    def connect(self): raise NotImplementedError
    def begin_write(self, conn) -> None: raise NotImplementedError
    def lock(self, cur, key: int) -> None: raise NotImplementedError  # a transaction-long lock on `key`
    def tables(self, cur) -> set[str]: raise NotImplementedError
    def check(self, conn) -> None: raise NotImplementedError
    def encode_time(self, moment: datetime): raise NotImplementedError
    def decode_time(self, value) -> datetime: raise NotImplementedError
    def translate(self, error: Exception) -> ProgressError | None: raise NotImplementedError
    def sql(self, text: str) -> str: return text
    def broken(self, conn) -> bool: return False
    def usable(self, conn) -> bool: return True  # an idle pooled connection that still works
