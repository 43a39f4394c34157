"""The progress database's schema: its tables, version and migrations, and the checks on the names and ids
written into it. `progress.store` applies the migrations on open through `migrate`; nothing else writes DDL.
"""

from __future__ import annotations

import contextlib
import re
import unicodedata
import zlib
from dataclasses import dataclass
from datetime import datetime, timezone

from . import rehearsals
from .errors import InvalidLearner, InvalidQuestionId, ProgressDamaged, ProgressSchemaTooNew

LEARNER_MAX_CHARS = 40
LEARNER_PUNCTUATION = " -_."
QUESTION_ID_MAX_CHARS = 200
MAX_DAILY_MINUTES = 600  # a daily time budget longer than ten hours is a typo
# ingest.content.ID_PATTERN, restated so that a broken bank or index can never stop the progress database from
# opening (progress imports nothing from ingest/ or index/); a test holds the two equal.
ID_PATTERN = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")


@dataclass(frozen=True)
class Migration:
    version: int
    description: str
    statements: dict[str, tuple[str, ...]]  # dialect ("sqlite", "postgresql") -> DDL, run in one transaction


def column_types(dialect: str) -> dict[str, str]:
    """Each dialect's column types for the migrations: pk, ref (a key), ts, real, blob."""
    sqlite = dialect == "sqlite"
    return {"pk": "INTEGER PRIMARY KEY AUTOINCREMENT" if sqlite else "BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY",
            "ref": "INTEGER" if sqlite else "BIGINT", "ts": "TEXT" if sqlite else "TIMESTAMPTZ",
            "real": "REAL" if sqlite else "DOUBLE PRECISION", "blob": "BLOB" if sqlite else "BYTEA"}


def _schema_v1(dialect: str) -> tuple[str, ...]:
    sqlite = dialect == "sqlite"
    pk, ref, ts, real = (column_types(dialect)[k] for k in ("pk", "ref", "ts", "real"))
    tables = (
        "CREATE TABLE schema_version (version INTEGER PRIMARY KEY, description TEXT NOT NULL, "
        f"applied_at {ts} NOT NULL)",
        f"CREATE TABLE learners (id {pk}, name_key TEXT NOT NULL UNIQUE, name TEXT NOT NULL, created_at {ts} NOT NULL)",
        f"CREATE TABLE reviews (id {pk}, learner_id {ref} NOT NULL REFERENCES learners(id), "
        "question_id TEXT NOT NULL, rating INTEGER NOT NULL CHECK (rating BETWEEN 1 AND 4), "
        f"reviewed_at {ts} NOT NULL, duration_ms INTEGER CHECK (duration_ms IS NULL OR duration_ms >= 0), "
        "source TEXT NOT NULL, state INTEGER NOT NULL CHECK (state BETWEEN 1 AND 3), step INTEGER, "
        f"stability {real}, difficulty {real}, due {ts} NOT NULL, reps INTEGER NOT NULL, lapses INTEGER NOT NULL)",
        "CREATE INDEX reviews_by_card ON reviews (learner_id, question_id, id)",
        f"CREATE TABLE imports (name TEXT PRIMARY KEY, learner_id {ref} NOT NULL REFERENCES learners(id), "
        f"reviews INTEGER NOT NULL, detail TEXT NOT NULL, imported_at {ts} NOT NULL)",
    )
    if sqlite:
        guards = tuple(f"CREATE TRIGGER reviews_no_{op.lower()} BEFORE {op} ON reviews "
                       "BEGIN SELECT RAISE(ABORT, 'reviews are append-only'); END" for op in ("UPDATE", "DELETE"))
    else:
        guards = ("CREATE FUNCTION reviews_append_only() RETURNS trigger LANGUAGE plpgsql AS "
                  "$$ BEGIN RAISE EXCEPTION 'reviews are append-only'; END $$",
                  "CREATE TRIGGER reviews_append_only BEFORE UPDATE OR DELETE ON reviews "
                  "FOR EACH ROW EXECUTE FUNCTION reviews_append_only()",
                  "CREATE TRIGGER reviews_no_truncate BEFORE TRUNCATE ON reviews "
                  "FOR EACH STATEMENT EXECUTE FUNCTION reviews_append_only()")
    return tables + guards


def _schema_v2(dialect: str) -> tuple[str, ...]:
    """Private learners (progress/auth.py owns what goes in these rows): a passphrase hash per learner, the
    learner's practice settings, the sign-ins kept across reloads (only a token's SHA-256) and the failed
    sign-ins that slow down guessing (per name and per client address)."""
    sqlite = dialect == "sqlite"
    ref = "INTEGER" if sqlite else "BIGINT"
    ts = "TEXT" if sqlite else "TIMESTAMPTZ"
    return (
        f"CREATE TABLE learner_passphrases (learner_id {ref} PRIMARY KEY REFERENCES learners(id), "
        f"passphrase_hash TEXT NOT NULL, set_at {ts} NOT NULL)",
        f"CREATE TABLE learner_settings (learner_id {ref} PRIMARY KEY REFERENCES learners(id), "
        f"interview {'TEXT' if sqlite else 'DATE'}, updated_at {ts} NOT NULL)",
        f"CREATE TABLE sign_ins (token_sha256 TEXT PRIMARY KEY, learner_id {ref} NOT NULL REFERENCES learners(id), "
        f"created_at {ts} NOT NULL, expires_at {ts} NOT NULL)",
        "CREATE INDEX sign_ins_by_expiry ON sign_ins (expires_at)",
        "CREATE TABLE sign_in_failures (kind TEXT NOT NULL, subject TEXT NOT NULL, failures INTEGER NOT NULL, "
        f"last_failed_at {ts} NOT NULL, blocked_until {ts} NOT NULL, PRIMARY KEY (kind, subject))",
    )


def _schema_v3(dialect: str) -> tuple[str, ...]:
    """The learner's daily time budget in minutes (NULL: none), beside the interview date."""
    return ("ALTER TABLE learner_settings ADD COLUMN daily_minutes INTEGER "
            f"CHECK (daily_minutes IS NULL OR daily_minutes BETWEEN 1 AND {MAX_DAILY_MINUTES})",)


MIGRATIONS: tuple[Migration, ...] = (
    Migration(1, "learners, append-only reviews log, imports",
              {d: _schema_v1(d) for d in ("sqlite", "postgresql")}),
    Migration(2, "private learners: passphrase hashes, settings, sign-ins, failed sign-ins",
              {d: _schema_v2(d) for d in ("sqlite", "postgresql")}),
    Migration(3, "learner settings: the daily time budget",
              {d: _schema_v3(d) for d in ("sqlite", "postgresql")}),
    Migration(4, "rehearsals: spoken answers' transcripts and delivery (progress/rehearsals.py)",
              {d: rehearsals.schema(column_types(d)) for d in ("sqlite", "postgresql")}),
)
SCHEMA_VERSION = MIGRATIONS[-1].version
TABLES = ("schema_version", "learners", "reviews", "imports", "learner_passphrases", "learner_settings", "sign_ins",
          "sign_in_failures", "rehearsals")


def card_lock(learner_id: int, question_id: str) -> int:
    """The lock key of one learner × question: learner id in the high 32 bits (never 0), so it cannot meet
    a named_lock key."""
    return (learner_id << 32) | zlib.crc32(question_id.encode())


def named_lock(name: str) -> int:
    return zlib.crc32(f"mlprep progress {name}".encode())


def learner_name(raw: str) -> str:
    """The canonical form of a learner name, which may come from a URL: Unicode NFC, runs of spaces collapsed,
    1-40 characters, letters, digits, spaces and `- _ .`, starting with a letter or digit. Names that differ only
    in case are the same learner. Raises InvalidLearner."""
    rule = (f"a learner name is 1-{LEARNER_MAX_CHARS} letters, digits, spaces or '-', '_', '.', "
            "starting with a letter or digit")
    if not isinstance(raw, str):
        raise InvalidLearner(f"the learner name must be text; {rule}")
    name = " ".join(part for part in unicodedata.normalize("NFC", raw).split(" ") if part)  # tabs, newlines: refused
    if not name:
        raise InvalidLearner(f"the learner name is empty; {rule}")
    if len(name) > LEARNER_MAX_CHARS:
        raise InvalidLearner(f"the learner name is {len(name)} characters long; {rule}")
    bad = sorted({ch for ch in name if not (ch.isalnum() or ch in LEARNER_PUNCTUATION)})
    if bad or not name[0].isalnum():
        shown = ", ".join(repr(ch) for ch in bad[:5]) if bad else repr(name[0])
        raise InvalidLearner(f"the learner name has characters that are not allowed ({shown}); {rule}")
    return name


def question_id(raw: str) -> str:
    if not isinstance(raw, str) or len(raw) > QUESTION_ID_MAX_CHARS or not ID_PATTERN.fullmatch(raw):
        raise InvalidQuestionId(f"{str(raw)[:60]!r} is not a question id (lowercase words joined by hyphens, "
                            "as in content/<id>.md)")
    return raw



def migrate(backend, conn) -> None:
    """Bring the database on `conn` to SCHEMA_VERSION, in one transaction under a lock, so that two processes
    opening a new database at once apply each migration once. Raises ProgressSchemaTooNew, ProgressDamaged."""
    found = version(backend, conn.cursor())
    if found == SCHEMA_VERSION:
        return
    if found > SCHEMA_VERSION:
        raise ProgressSchemaTooNew(backend.where, found, SCHEMA_VERSION)
    backend.begin_write(conn)
    try:
        cur = conn.cursor()
        backend.lock(cur, named_lock("schema"))
        found = version(backend, cur)  # another process may have migrated while this one waited
        if found > SCHEMA_VERSION:
            raise ProgressSchemaTooNew(backend.where, found, SCHEMA_VERSION)
        for migration in MIGRATIONS[found:]:
            for statement in migration.statements[backend.dialect]:
                cur.execute(statement)
            cur.execute(backend.sql("INSERT INTO schema_version (version, description, applied_at) VALUES (?, ?, ?)"),
                        (migration.version, migration.description,
                         backend.encode_time(datetime.now(timezone.utc))))
        conn.execute("COMMIT")
    except BaseException:
        with contextlib.suppress(Exception):
            conn.execute("ROLLBACK")
        raise


def version(backend, cur) -> int:
    """The schema version of the database `cur` reads (0: empty). Raises ProgressDamaged for a database that has
    this program's tables but no version table."""
    tables = backend.tables(cur)
    if "schema_version" not in tables:
        ours = sorted(tables & set(TABLES))
        if ours:
            raise ProgressDamaged(backend.where, f"it has the tables {', '.join(ours)} but no schema_version",
                                  "it was not written by this program, or lost its version table: move it "
                                  "aside and start again")
        return 0
    row = cur.execute("SELECT MAX(version) FROM schema_version").fetchone()
    return int(row[0] or 0)
