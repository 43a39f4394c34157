"""Private learners on a served instance: passphrases, sign-ins kept across reloads, and slowed-down guessing.

    from progress.auth import Accounts
    accounts = Accounts(store)                                   # over a progress.store.ProgressStore
    result = accounts.create("alice", "a long passphrase", "a long passphrase", client="203.0.113.7")
    result = accounts.sign_in("alice", "a long passphrase", client="203.0.113.7")
    result.token                                                 # kept by the browser (a cookie), never stored
    accounts.resume(result.token)                                # "alice", until SIGN_IN_TTL has passed
    accounts.sign_out(result.token)

A passphrase is stored only as a salted scrypt hash whose parameters travel with it
(`scrypt$n=16384$r=8$p=1$<salt>$<key>`, salt and key in base64), so stronger parameters can be adopted later
without breaking stored ones; it is compared with `hmac.compare_digest`. A sign-in token is 32 random bytes
(`secrets.token_urlsafe`); the database holds only its SHA-256, so a copy of the database signs nobody in.
Each wrong passphrase is counted per learner name and per client address in `sign_in_failures`, in the shared
database, so the back-off holds across app processes; past a few free tries each further one doubles the wait.

The tables are created by progress/store.py's migration 2 (the store owns the format); this module owns what
goes in their rows. Nothing here imports streamlit.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import re
import secrets
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from .errors import InvalidLearner
from .store import DEFAULT_LEARNER, ProgressStore, _named_lock, learner_name

log = logging.getLogger("mlprep.sign_in")

SCHEME = "scrypt"
SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 14, 8, 1  # 16 MiB and about 50 ms per try on one core
SALT_BYTES, KEY_BYTES = 16, 32
MAX_SCRYPT_N = 2 ** 20  # a stored string asking for more is damage, not a setting (it would take 1 GiB per try)
MIN_PASSPHRASE_CHARS = 10
MAX_PASSPHRASE_CHARS = 1024
SIGN_IN_TTL = timedelta(hours=12)  # how long a sign-in survives reloads: one sitting
TOKEN_BYTES = 32
COOKIE = "mlprep_sign_in"  # the browser cookie that holds the token (set and deleted by the page's script)


@dataclass(frozen=True)
class Backoff:
    """How wrong tries of one kind are slowed down: `free` tries cost nothing but scrypt, then each further one
    blocks that subject for 1, 2, 4, … seconds, at most `max_s`; a subject with no failure for `forget_after`
    starts again from zero."""

    free: int
    max_s: float
    forget_after: timedelta

    def wait_after(self, failures: int) -> float:
        """Seconds the subject is blocked for after its `failures`-th failure in a row."""
        if failures < self.free:
            return 0.0
        return float(min(2 ** min(failures - self.free, 30), self.max_s))


# One learner's name is guessed at from anywhere: few free tries. A client address may be a whole school behind
# one NAT (or a proxy without MLPREP_TRUST_PROXY): more free tries, so one student's typos do not lock the class.
BACKOFF = {
    "name": Backoff(free=3, max_s=15 * 60, forget_after=timedelta(hours=1)),
    "client": Backoff(free=10, max_s=15 * 60, forget_after=timedelta(hours=1)),
    "editor": Backoff(free=3, max_s=15 * 60, forget_after=timedelta(hours=1)),  # the editor key, per client
}


# --------------------------------------------------------------------------- the hash format
@dataclass(frozen=True)
class PassphraseHash:
    """A parsed `scrypt$n=…$r=…$p=…$<salt>$<key>` string."""

    n: int
    r: int
    p: int
    salt: bytes
    key: bytes

    def __str__(self) -> str:
        b64 = lambda raw: base64.b64encode(raw).decode("ascii")  # noqa: E731
        return f"{SCHEME}$n={self.n}$r={self.r}$p={self.p}${b64(self.salt)}${b64(self.key)}"


_HASH = re.compile(r"scrypt\$n=(\d{1,8})\$r=(\d{1,3})\$p=(\d{1,3})\$([A-Za-z0-9+/]+={0,2})\$([A-Za-z0-9+/]+={0,2})")


def parse_hash(stored: str) -> PassphraseHash:
    """The parameters, salt and key of a stored hash. Raises ValueError on anything else."""
    match = _HASH.fullmatch(stored or "")
    if not match:
        raise ValueError("not a scrypt$n=…$r=…$p=…$salt$key passphrase hash")
    n, r, p = (int(match.group(i)) for i in (1, 2, 3))
    if n < 2 or n & (n - 1) or n > MAX_SCRYPT_N or not 1 <= r <= 64 or not 1 <= p <= 16:
        raise ValueError(f"scrypt parameters out of range (n={n}, r={r}, p={p})")
    salt, key = base64.b64decode(match.group(4)), base64.b64decode(match.group(5))
    if len(salt) < 8 or len(key) < 16:
        raise ValueError("scrypt salt or key too short")
    return PassphraseHash(n, r, p, salt, key)


def _derive(passphrase: str, n: int, r: int, p: int, salt: bytes, length: int) -> bytes:
    return hashlib.scrypt(passphrase.encode("utf-8"), salt=salt, n=n, r=r, p=p, dklen=length,
                          maxmem=128 * r * (n + p + 2) + (1 << 20))


def hash_passphrase(passphrase: str, n: int | None = None, r: int | None = None, p: int | None = None,
                    salt: bytes | None = None) -> str:
    """The string to store for `passphrase`: SCRYPT_N/R/P and a fresh random salt unless given."""
    n, r, p = n or SCRYPT_N, r or SCRYPT_R, p or SCRYPT_P
    salt = secrets.token_bytes(SALT_BYTES) if salt is None else salt
    return str(PassphraseHash(n, r, p, salt, _derive(passphrase, n, r, p, salt, KEY_BYTES)))


def verify_passphrase(passphrase: str, stored: str) -> bool:
    """Whether `passphrase` matches the stored hash, with the parameters read from the stored string, compared in
    constant time. A damaged stored string matches nothing."""
    try:
        parsed = parse_hash(stored)
    except ValueError:
        log.error("a stored passphrase hash is damaged; that learner cannot sign in until an admin resets it")
        return False
    candidate = _derive(passphrase, parsed.n, parsed.r, parsed.p, parsed.salt, len(parsed.key))
    return hmac.compare_digest(candidate, parsed.key)


def passphrase_problem(passphrase: str, confirm: str | None = None) -> str | None:
    """What is wrong with a new passphrase, in one sentence; None when it can be used."""
    if not isinstance(passphrase, str) or len(passphrase) < MIN_PASSPHRASE_CHARS:
        return (f"Choose a passphrase of at least {MIN_PASSPHRASE_CHARS} characters (a few words are easier to "
                "remember than symbols).")
    if len(passphrase) > MAX_PASSPHRASE_CHARS:
        return f"The passphrase is longer than {MAX_PASSPHRASE_CHARS} characters; choose a shorter one."
    if confirm is not None and not hmac.compare_digest(passphrase.encode("utf-8"), str(confirm).encode("utf-8")):
        return "The two passphrases differ; type the same one in both boxes."
    return None


def token_digest(token: str) -> str:
    """The SHA-256 (hex) of a sign-in token: what the database keeps instead of the token."""
    return hashlib.sha256(str(token).encode("utf-8")).hexdigest()


# --------------------------------------------------------------------------- sign-ins against the database
@dataclass(frozen=True)
class SignIn:
    """What a sign-in attempt gave: `outcome` is "signed-in", "wrong", "blocked", "unknown" (no learner of that
    name has a passphrase yet: create it), "taken" (creating a name that already has one) or "refused" (a name or
    passphrase that cannot be used; `message` says why)."""

    outcome: str
    learner: str | None = None
    token: str | None = None
    expires: datetime | None = None
    wait_s: float = 0.0
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.outcome == "signed-in"


class Accounts:
    """Passphrases, sign-ins, failed tries and settings of the learners in one progress store."""

    def __init__(self, store: ProgressStore):
        self.store = store

    # a few private helpers over the store's connection pool and time encoding
    def _enc(self, moment: datetime):
        return self.store._backend.encode_time(moment)

    def _dec(self, value) -> datetime:
        return self.store._backend.decode_time(value)

    def _q(self, cur, text: str, params: tuple = ()):
        return self.store._exec(cur, text, params)

    # -- passphrases -------------------------------------------------------------------------------------------

    def has_passphrase(self, learner: str) -> bool:
        with self.store._read() as cur:
            return self._hash_of(cur, learner_name(learner)) is not None

    def _hash_of(self, cur, name: str) -> tuple[str, str] | None:
        """(the learner's name as first written, the stored hash), or None when it has no passphrase."""
        row = self._q(cur, "SELECT l.name, p.passphrase_hash FROM learner_passphrases p JOIN learners l ON l.id = "
                           "p.learner_id WHERE l.name_key = ?", (name.casefold(),)).fetchone()
        return (row[0], row[1]) if row else None

    def create(self, learner: str, passphrase: str, confirm: str, client: str,
               now: datetime | None = None) -> SignIn:
        """Set the passphrase of a learner who has none yet (a new name, or one from before passphrases) and sign
        them in. The check and the write are one transaction, so two people creating one name cannot both win."""
        now = now or datetime.now(timezone.utc)
        try:
            name = learner_name(learner)
        except InvalidLearner as exc:
            return SignIn("refused", message=str(exc)[:1].upper() + str(exc)[1:] + ".")
        if name.casefold() == DEFAULT_LEARNER:
            return SignIn("refused", message=f"“{DEFAULT_LEARNER}” is the shared learner of a local copy; choose a "
                                             "name of your own.")
        if problem := passphrase_problem(passphrase, confirm):
            return SignIn("refused", message=problem)
        stored = hash_passphrase(passphrase)  # before the transaction: scrypt takes a while, locks should not
        with self.store._write() as cur:
            learner_id = self.store._ensure_learner(cur, name)
            self._q(cur, "INSERT INTO learner_passphrases (learner_id, passphrase_hash, set_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (learner_id) DO NOTHING", (learner_id, stored, self._enc(now)))
            if cur.rowcount != 1:
                return SignIn("taken", message=f"The name “{name}” is taken on this server: sign in with its "
                                               "passphrase, or choose another name.")
            token, expires = self._new_sign_in(cur, learner_id, now)
        log.info("learner %r created from %s", name, client)
        return SignIn("signed-in", name, token, expires)

    # -- signing in --------------------------------------------------------------------------------------------

    def sign_in(self, learner: str, passphrase: str, client: str, now: datetime | None = None) -> SignIn:
        """Check a passphrase, unless the name or the client is blocked by earlier failures; a wrong one is
        counted against both and logged (one line, never the passphrase)."""
        now = now or datetime.now(timezone.utc)
        try:
            name = learner_name(learner)
        except InvalidLearner as exc:
            return SignIn("refused", message=str(exc)[:1].upper() + str(exc)[1:] + ".")
        subjects = (("name", name.casefold()), ("client", client))
        wait = max(self.blocked_for(kind, subject, now) for kind, subject in subjects)
        if wait > 0:
            log.warning("sign-in for learner %r from %s refused: blocked for %.0f s more", name, client, wait)
            return SignIn("blocked", wait_s=wait, message=_blocked_message(wait))
        with self.store._read() as cur:
            found = self._hash_of(cur, name)
        if found is None:
            return SignIn("unknown", message=f"No learner “{name}” has a passphrase on this server yet. To start "
                                             "as this name, type your new passphrase again in “Confirm”.")
        name, stored = found
        if not verify_passphrase(passphrase if isinstance(passphrase, str) else "", stored):
            waits = [self.record_failure(kind, subject, now) for kind, subject in subjects]
            log.warning("wrong passphrase for learner %r from %s; next try allowed in %.0f s", name, client,
                        max(waits))
            return SignIn("wrong", wait_s=max(waits), message="Wrong name or passphrase." + (
                f" {_blocked_message(max(waits))}" if max(waits) else ""))
        self.clear_failures("name", name.casefold())
        with self.store._write() as cur:
            token, expires = self._new_sign_in(cur, self.store._learner_id(cur, name), now)
        return SignIn("signed-in", name, token, expires)

    def _new_sign_in(self, cur, learner_id: int, now: datetime) -> tuple[str, datetime]:
        token, expires = secrets.token_urlsafe(TOKEN_BYTES), now + SIGN_IN_TTL
        self._q(cur, "DELETE FROM sign_ins WHERE expires_at <= ?", (self._enc(now),))  # the expired ones, anyone's
        self._q(cur, "INSERT INTO sign_ins (token_sha256, learner_id, created_at, expires_at) VALUES (?, ?, ?, ?)",
                (token_digest(token), learner_id, self._enc(now), self._enc(expires)))
        return token, expires

    def resume(self, token: str | None, now: datetime | None = None) -> tuple[str, datetime] | None:
        """(learner, expiry) of a sign-in token that is known and not expired; None otherwise."""
        if not token or not isinstance(token, str) or len(token) > 200:
            return None
        now = now or datetime.now(timezone.utc)
        with self.store._read() as cur:
            row = self._q(cur, "SELECT l.name, s.expires_at FROM sign_ins s JOIN learners l ON l.id = s.learner_id "
                               "WHERE s.token_sha256 = ?", (token_digest(token),)).fetchone()
        if row is None:
            return None
        expires = self._dec(row[1])
        return (row[0], expires) if expires > now else None

    def sign_out(self, token: str | None) -> None:
        """Forget a sign-in token (the browser's cookie is deleted by the page)."""
        if token and isinstance(token, str):
            with self.store._write() as cur:
                self._q(cur, "DELETE FROM sign_ins WHERE token_sha256 = ?", (token_digest(token),))

    # -- failures and the back-off -----------------------------------------------------------------------------

    def blocked_for(self, kind: str, subject: str, now: datetime | None = None) -> float:
        """Seconds until `subject` (a name key or a client address) may try again; 0 when it may now."""
        now = now or datetime.now(timezone.utc)
        with self.store._read() as cur:
            row = self._q(cur, "SELECT blocked_until FROM sign_in_failures WHERE kind = ? AND subject = ?",
                          (kind, subject)).fetchone()
        return max(0.0, (self._dec(row[0]) - now).total_seconds()) if row else 0.0

    def record_failure(self, kind: str, subject: str, now: datetime | None = None) -> float:
        """Count one failure of `subject`; returns how long it is now blocked for (seconds)."""
        now = now or datetime.now(timezone.utc)
        rule = BACKOFF[kind]
        with self.store._write() as cur:
            self.store._backend.lock(cur, _named_lock(f"sign-in failures {kind} {subject}"))
            row = self._q(cur, "SELECT failures, last_failed_at FROM sign_in_failures WHERE kind = ? AND subject = ?",
                          (kind, subject)).fetchone()
            failures = 1
            if row is not None and now - self._dec(row[1]) < rule.forget_after:
                failures = int(row[0]) + 1
            wait = rule.wait_after(failures)
            self._q(cur, "INSERT INTO sign_in_failures (kind, subject, failures, last_failed_at, blocked_until) "
                         "VALUES (?, ?, ?, ?, ?) ON CONFLICT (kind, subject) DO UPDATE SET failures = excluded.failures, "
                         "last_failed_at = excluded.last_failed_at, blocked_until = excluded.blocked_until",
                    (kind, subject, failures, self._enc(now), self._enc(now + timedelta(seconds=wait))))
        return wait

    def clear_failures(self, kind: str, subject: str) -> None:
        with self.store._write() as cur:
            self._q(cur, "DELETE FROM sign_in_failures WHERE kind = ? AND subject = ?", (kind, subject))

    # -- settings ----------------------------------------------------------------------------------------------

    def interview(self, learner: str) -> date | None:
        """The learner's stored interview date (None when none is set)."""
        with self.store._read() as cur:
            row = self._q(cur, "SELECT s.interview FROM learner_settings s JOIN learners l ON l.id = s.learner_id "
                               "WHERE l.name_key = ?", (learner_name(learner).casefold(),)).fetchone()
        if not row or row[0] is None:
            return None
        return date.fromisoformat(row[0]) if isinstance(row[0], str) else row[0]

    def set_interview(self, learner: str, day: date | None, now: datetime | None = None) -> None:
        """Store the learner's interview date (None clears it)."""
        value = day if isinstance(day, date) else None
        if value is not None and self.store.dialect == "sqlite":
            value = value.isoformat()  # SQLite has no date type: ISO text, as the schema says
        with self.store._write() as cur:
            learner_id = self.store._ensure_learner(cur, learner_name(learner))
            self._q(cur, "INSERT INTO learner_settings (learner_id, interview, updated_at) VALUES (?, ?, ?) "
                         "ON CONFLICT (learner_id) DO UPDATE SET interview = excluded.interview, "
                         "updated_at = excluded.updated_at",
                    (learner_id, value, self._enc(now or datetime.now(timezone.utc))))


def _blocked_message(wait_s: float) -> str:
    wait = max(1, round(wait_s))
    shown = f"{wait} second{'s' if wait != 1 else ''}" if wait < 120 else f"{round(wait / 60)} minutes"
    return f"Too many wrong tries: wait {shown} before the next one."
