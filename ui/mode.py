"""Local or served: the one place that reads which mode the app runs in, and what that allows.

Local (`make run`, the default): one person on their own computer, listening on 127.0.0.1. The page keeps a
default learner, edits the bank and shows every detail, as before.

Served (`make serve`, MLPREP_SERVED=1): several people over a network. Learners sign in with a name and a
passphrase (ui/sign_in.py, progress/auth.py); the bank is locked unless MLPREP_EDITOR_KEY is set and this session
has typed it; MLPREP_READONLY locks it in both modes; errors show no paths, and Streamlit shows no stack traces
(`make serve` passes --client.showErrorDetails none). MLPREP_TRUST_PROXY=1 (behind a reverse proxy that sets
X-Forwarded-For) makes the client address, which the sign-in back-off counts failures by, the proxy's last hop;
Streamlit's server (uvicorn) already does that for a proxy connecting from 127.0.0.1 (FORWARDED_ALLOW_IPS), so
the variable is for a proxy on another host, and only when the app cannot be reached except through it.

Everything is read from the environment on every call, so a test can switch it.
"""

from __future__ import annotations

import hmac
import logging
import os

import streamlit as st

from ingest.edit import read_only

SERVED_ENV = "MLPREP_SERVED"
EDITOR_KEY_ENV = "MLPREP_EDITOR_KEY"
TRUST_PROXY_ENV = "MLPREP_TRUST_PROXY"
EDITOR_UNLOCKED = "_editor-unlocked"  # session key, set only by unlock_editor (no widget has it)

log = logging.getLogger("mlprep.app")


def _log_lines() -> None:
    """One timestamped line per event of ours (sign-ins, errors hidden from a served page) on the server's
    stderr, beside Streamlit's own log; once per process."""
    ours = logging.getLogger("mlprep")
    if not ours.handlers:
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        ours.addHandler(handler)
        ours.setLevel(logging.INFO)


_log_lines()


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() not in ("", "0", "false", "no")


def served() -> bool:
    """True on a served instance (MLPREP_SERVED set to anything but "", "0", "false" or "no")."""
    return _flag(SERVED_ENV)


def editor_key_set() -> bool:
    return bool(os.environ.get(EDITOR_KEY_ENV))


def editor_key_matches(typed: str) -> bool:
    """Whether `typed` is MLPREP_EDITOR_KEY (constant-time); never true when no key is set."""
    key = os.environ.get(EDITOR_KEY_ENV) or ""
    return bool(key) and hmac.compare_digest(str(typed).encode("utf-8"), key.encode("utf-8"))


def editing_allowed() -> bool:
    """Whether this session may change the bank now: never with MLPREP_READONLY; always locally; on a served
    instance only after this session unlocked editing with the editor key. Checked again at every write."""
    if read_only():
        return False
    if not served():
        return True
    return editor_key_set() and st.session_state.get(EDITOR_UNLOCKED) is True


def client_address() -> str:
    """The address the sign-in back-off counts this session's failures by: the TCP peer, or with
    MLPREP_TRUST_PROXY the last address the proxy added to X-Forwarded-For ("local" for this computer)."""
    if _flag(TRUST_PROXY_ENV):
        forwarded = st.context.headers.get("X-Forwarded-For")
        last = forwarded.split(",")[-1].strip() if isinstance(forwarded, str) else ""
        if last:
            return last[:64]
    peer = st.context.ip_address  # None for 127.0.0.1 and ::1
    return peer[:64] if isinstance(peer, str) and peer else "local"


def error_detail(exc: Exception, what: str) -> str:
    """What to say about an expected error after "…: ": locally its own message (paths included, for the owner to
    fix); on a served instance plain words, with the message (and `what` failed) in the server's log instead."""
    if not served():
        return str(exc)
    log.error("%s failed: %s", what, exc)
    return "the server's log says why"
