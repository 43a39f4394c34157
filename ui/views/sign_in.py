"""Signing in on a served instance (ui/mode.py): the sidebar's name-and-passphrase form, who this session is, the
sign-in kept across reloads, and the learner's stored interview date. The rules (hashing, tokens, back-off) are
progress/auth.py's; this module only carries them to the page.

Who a session practises as comes from one place: `signed_in_learner()`, which reads a session key that only a
passphrase check (or a sign-in token the database knows) sets. No widget, URL parameter or cookie name sets it:
`?learner=alice` only pre-fills the name box.

The sign-in survives a reload for SIGN_IN_TTL (12 hours): a random token is kept in the browser as the cookie
`mlprep_sign_in` (set by the page's script: SameSite=Strict, Path=/, Max-Age, Secure over https) and only its
SHA-256 in the database's `sign_ins` table, so another app process on the same database resumes it too.
"Sign out" deletes the row and the cookie.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta, timezone

import streamlit as st

from progress import ProgressError, learner_name
from progress.auth import COOKIE, MAX_PASSPHRASE_CHARS, MIN_PASSPHRASE_CHARS, Accounts
from progress.store import database_from_env

from .. import practice
from ..mode import client_address, error_detail
from ..render import escape_md
from ..resources import Paths, progress_store

SIGNED_IN = "_signed-in"  # session key: {"name", "token", "expires"}; set only by _start
SIGNED_OUT = "_signed-out"  # session key: this session signed out, so the cookie it came with is not used again
NEW_NAME = "_sign-in-new"  # session key: the name the server said has no passphrase yet (the form asks to confirm)
MESSAGE = "_sign-in-message"  # session key: (kind, text) said once under the form
_TOKEN = re.compile(r"[A-Za-z0-9_-]{20,100}")  # what secrets.token_urlsafe makes: safe inside the script below


def open_progress(paths: Paths):
    """(store, ImportResult), or None after saying why the database cannot be used (searching still works)."""
    try:
        return progress_store(database_from_env(), str(paths.practice_file))
    except ProgressError as exc:
        st.error(f"Practice progress is unavailable: {escape_md(error_detail(exc, 'Opening the progress database'))}. "
                 "Searching and reading still work.")
        return None


def accounts(paths: Paths | None = None) -> Accounts | None:
    """The learners' accounts over the progress database, or None after saying why it cannot be used."""
    opened = open_progress(paths or Paths.from_env())
    return Accounts(opened[0]) if opened else None


# --------------------------------------------------------------------------- who this session is
def signed_in_learner() -> str | None:
    """The learner this session signed in as, resuming a sign-in from the browser's cookie on a session's first
    run; None when nobody is signed in. Every call asks the database whether the sign-in still stands (not expired,
    not signed out in another tab): one indexed look-up."""
    ss = st.session_state
    mine = ss.get(SIGNED_IN)
    if isinstance(mine, dict):
        if _resume(mine["token"]) is not None:
            return mine["name"]
        _end()
        return None
    token = st.context.cookies.get(COOKIE)
    if ss.get(SIGNED_OUT) or not token or ss.get("_cookie-tried") == token:
        return None
    ss["_cookie-tried"] = token  # one database look-up per cookie and session, not one per run
    found = _resume(token)
    if found is None:
        return None
    _start(found[0], token, found[1], accounts())
    return found[0]


def _resume(token: str):
    store = accounts()
    if store is None:
        return None
    try:
        return store.resume(token)
    except ProgressError as exc:
        st.error(f"Signing in is unavailable: {escape_md(error_detail(exc, 'Resuming a sign-in'))}")
        return None


def _start(name: str, token: str, expires: datetime, store: Accounts | None) -> None:
    """Make this session `name`'s: its stored interview date (or the link's, stored, when it has none)."""
    ss = st.session_state
    _forget_practice()
    ss[SIGNED_IN] = {"name": name, "token": token, "expires": expires}
    ss.pop(SIGNED_OUT, None)
    ss.pop(NEW_NAME, None)
    today = practice.now().astimezone(practice.learner_zone(st.context.timezone)).date()
    day = None
    if store is not None:
        try:
            day = store.interview(name)
            if day is None:
                day, _ = practice.interview_from(st.query_params.get("interview"), today)
                if day is not None:
                    store.set_interview(name, day)
        except ProgressError as exc:
            st.session_state[MESSAGE] = ("error", "Your interview date could not be read: " + error_detail(exc, "Reading an interview date"))
    if day is not None and not today <= day <= today + timedelta(days=practice.MAX_INTERVIEW_DAYS):
        day = None  # passed, or out of the box's range: practise without one until a new day is picked
    ss["interview"] = day


def _end() -> None:
    for key in (SIGNED_IN, "interview"):
        st.session_state.pop(key, None)
    _forget_practice()


def _forget_practice() -> None:
    """Nothing of one learner's sitting (the question shown, a typed answer) stays for the next one."""
    for key in [k for k in st.session_state if isinstance(k, str) and k.startswith("practice")]:
        del st.session_state[key]


# --------------------------------------------------------------------------- callbacks (server-side checks)
def _attempt(paths: Paths) -> None:
    ss = st.session_state
    name = str(ss.get("sign-in-name") or "")
    passphrase, confirm = str(ss.get("sign-in-passphrase") or ""), ss.get("sign-in-confirm")
    ss["sign-in-passphrase"] = ""  # never kept in the session beyond this check
    if "sign-in-confirm" in ss:
        ss["sign-in-confirm"] = ""
    store = accounts(paths)
    if store is None:
        return
    try:
        key = learner_name(name).casefold()
    except ProgressError:
        key = None
    try:
        if ss.get(NEW_NAME) and ss.get(NEW_NAME) == key and confirm:
            result = store.create(name, passphrase, str(confirm), client_address())
        else:
            result = store.sign_in(name, passphrase, client_address())
    except ProgressError as exc:
        ss[MESSAGE] = ("error", "Signing in is unavailable: " + error_detail(exc, "Signing in"))
        return
    if result.ok:
        _start(result.learner, result.token, result.expires, store)
        ss[MESSAGE] = ("success", f"Signed in as {result.learner}.")
        return
    if result.outcome == "unknown":
        ss[NEW_NAME] = key
        ss[MESSAGE] = ("info", result.message + f" At least {MIN_PASSPHRASE_CHARS} characters; there is no reset, "
                                                "so keep it somewhere safe.")
    else:
        ss[MESSAGE] = ("error" if result.outcome != "blocked" else "warning", result.message)


def _sign_out(paths: Paths) -> None:
    ss = st.session_state
    mine = ss.get(SIGNED_IN)
    store = accounts(paths)
    if store is not None:
        try:
            for token in {mine.get("token") if isinstance(mine, dict) else None, st.context.cookies.get(COOKIE)}:
                store.sign_out(token)
        except ProgressError as exc:
            ss[MESSAGE] = ("error", "Signing out failed: " + error_detail(exc, "Signing out"))
    _end()
    ss[SIGNED_OUT] = True
    ss[MESSAGE] = ("info", "Signed out.")


def _save_interview(paths: Paths) -> None:
    name = signed_in_learner()
    store = accounts(paths) if name else None
    if store is None:
        return
    try:
        store.set_interview(name, st.session_state.get("interview"))
    except ProgressError as exc:
        st.session_state[MESSAGE] = ("error", "Your interview date was not saved: " + error_detail(exc, "Saving an interview date"))


# --------------------------------------------------------------------------- the sidebar
def _cookie_script(value: str, max_age: int) -> str:
    return ("<script>document.cookie = " + f'"{COOKIE}={value}; Path=/; Max-Age={max_age}; SameSite=Strict"'
            ' + (location.protocol === "https:" ? "; Secure" : "");</script>')


def sign_in_sidebar(paths: Paths) -> None:
    """The served instance's Practice part of the sidebar: the sign-in form, or who is signed in, the interview
    date and "Sign out"."""
    ss = st.session_state
    st.subheader("Practice")
    learner = signed_in_learner()
    if kind_text := ss.pop(MESSAGE, None):
        getattr(st, kind_text[0])(escape_md(kind_text[1]))
    if learner is not None:
        mine = ss[SIGNED_IN]
        if _TOKEN.fullmatch(mine["token"]):
            left = int((mine["expires"] - datetime.now(timezone.utc)).total_seconds())
            st.html(_cookie_script(mine["token"], max(left, 0)), unsafe_allow_javascript=True)
        st.markdown(f"Signed in as **{escape_md(learner)}**")
        st.button("Sign out", key="sign-out", on_click=_sign_out, args=(paths,), icon=":material/logout:")
        today = practice.now().astimezone(practice.learner_zone(st.context.timezone)).date()
        st.date_input("Interview date", value=None, key="interview", min_value=today,
                      max_value=today + timedelta(days=practice.MAX_INTERVIEW_DAYS), format="YYYY-MM-DD",
                      on_change=_save_interview, args=(paths,),
                      help="Kept with your progress. With a date, every question comes up at least once before "
                           "it and the weakest ones again.")
        st.caption("Your progress is private: only someone with your passphrase sees or changes it.")
        return
    if COOKIE in st.context.cookies:
        st.html(_cookie_script("", 0), unsafe_allow_javascript=True)  # a stale or signed-out sign-in: forget it
    if "sign-in-name" not in ss and st.query_params.get("learner"):
        ss["sign-in-name"] = str(st.query_params.get("learner"))[:80]  # a link may name you; it never signs you in
    new = ss.get(NEW_NAME)
    with st.form("sign-in", border=False, enter_to_submit=True):
        st.text_input("Name", key="sign-in-name", max_chars=80, placeholder="your name")
        st.text_input("Passphrase", key="sign-in-passphrase", type="password", max_chars=MAX_PASSPHRASE_CHARS)
        if new:
            st.text_input("Confirm the new passphrase", key="sign-in-confirm", type="password",
                          max_chars=MAX_PASSPHRASE_CHARS)
        st.form_submit_button("Create learner and sign in" if new else "Sign in", key="sign-in-submit",
                              on_click=_attempt, args=(paths,),
                              icon=":material/login:")
    st.caption("Sign in to practise. The first time, choose a passphrase: it keeps your progress private on this "
               "server (there is no reset).")
