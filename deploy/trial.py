"""A class on one machine, as it is served on several: `make class N=3` (or `python -m deploy --apps 3`).

The same layout as deploy/systemd and deploy/nginx, on loopback only:
- one PostgreSQL server of its own (initdb + pg_ctl in build/class/postgres, scram password, 127.0.0.1 only), the
  progress database every app process shares (MLPREP_DATABASE_URL);
- N Streamlit app processes on free ports of 127.0.0.1, in served mode (MLPREP_SERVED=1, as `make serve`; the
  client address taken from nginx's X-Forwarded-For, MLPREP_TRUST_PROXY=1), all opening one index
  folder that none of them writes (MLPREP_READONLY=1; the index is built before they start), with one cookie secret;
- Debian's nginx (not as a daemon; its configuration, pid, logs and temporary files in build/class/nginx) on one
  port, with sticky sessions and the websocket upgrade from deploy/nginx/mlprep-http.conf and mlprep-proxy.conf.
Ctrl+C (or SIGTERM) stops nginx, the apps and PostgreSQL, in that order. An app process that dies is started again
after a second, as systemd's Restart=always does; meanwhile nginx sends its students to the others.

`class_trial()` is the same thing as a context manager, for the load test (bench/classroom.py) and tests.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEPLOY = ROOT / "deploy"
NGINX = os.environ.get("MLPREP_NGINX") or "/usr/sbin/nginx"
# The flags `make run` starts the app with, less the address and port (given per process).
APP_FLAGS = ("--server.headless", "true", "--browser.gatherUsageStats", "false", "--server.fileWatcherType", "none",
             "--client.toolbarMode", "viewer")
SERVED_FLAGS = ("--client.showErrorDetails", "none")  # what `make serve` adds: no stack trace on a page


class TrialError(RuntimeError):
    """A part of the trial could not start; the message says which, and where its log is."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def streamlit_command(script: Path, port: int, extra_args=()) -> list[str]:
    """The command that serves `script` on 127.0.0.1:`port`, as `make run` and the systemd unit start the app."""
    return [sys.executable, "-m", "streamlit", "run", str(script), "--server.port", str(port),
            "--server.address", "127.0.0.1", *APP_FLAGS, *extra_args]


def wait_healthy(url: str, proc: subprocess.Popen, timeout: float, what: str, log: Path) -> None:
    """Wait until `url`/_stcore/health answers 200. Raises TrialError if `proc` exits or `timeout` passes first."""
    deadline = time.monotonic() + timeout
    while True:
        with contextlib.suppress(OSError):
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as r:
                if r.status == 200:
                    return
        if proc.poll() is not None or time.monotonic() > deadline:
            raise TrialError(f"{what} did not start (exit {proc.poll()}); see {log}")
        time.sleep(0.2)


def stop(proc: subprocess.Popen, timeout: float = 10, sig: int = signal.SIGTERM) -> None:
    """Ask `proc` to end (SIGTERM), then kill it if it has not within `timeout` s."""
    if proc.poll() is None:
        proc.send_signal(sig)
        try:
            proc.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


# ---------------------------------------------------------------------------- PostgreSQL
def _as_postgres_user(folder: Path, chown: bool) -> list[str]:
    """initdb refuses to run as root: then the server runs as the unprivileged `postgres` user, who is given
    `folder` and what is in it when `chown`."""
    if os.geteuid() != 0:
        return []
    try:
        user = pwd.getpwnam("postgres")
    except KeyError:
        raise TrialError("running as root and there is no `postgres` user to run PostgreSQL as; create one "
                         "(useradd --system postgres) or run as an ordinary user") from None
    for path in (folder, *folder.rglob("*")) if chown else ():
        os.chown(path, user.pw_uid, user.pw_gid)
    return ["runuser", "-u", "postgres", "--"]


@contextlib.contextmanager
def postgres(folder: Path, port: int | None = None, auth: str = "scram-sha-256"):
    """A PostgreSQL server of our own in `folder` (initdb on first use; the data stays for the next start), on
    127.0.0.1 only, with its socket in `folder`. Yields the server's URL (no database named: add one, e.g. with
    `create_database`); stopped at the end. auth "trust" (throw-away test servers) takes no password; otherwise a
    random one is kept in `folder`/password (mode 600). Raises TrialError when the binaries are missing or the
    server does not start."""
    initdb, pg_ctl = shutil.which("initdb"), shutil.which("pg_ctl")
    if not (initdb and pg_ctl):
        raise TrialError("PostgreSQL's initdb and pg_ctl are not on PATH: install the server (apt-get install "
                         "postgresql) and put its bin folder (e.g. /usr/lib/postgresql/15/bin) on PATH")
    folder.mkdir(parents=True, exist_ok=True)
    data, log, secret = folder / "data", folder / "server.log", folder / "password"
    port = port or free_port()
    if not (data / "PG_VERSION").exists():
        shutil.rmtree(data, ignore_errors=True)  # a half-made one from an interrupted first start
        password = secrets.token_urlsafe(18)
        secret.write_text(password + "\n")
        secret.chmod(0o600)
        run = subprocess.run(_as_postgres_user(folder, chown=True) + [
            initdb, "-D", str(data), "-A", auth, "-U", "postgres", "--no-sync", "-E", "UTF8", "--locale=C",
            f"--pwfile={secret}"], capture_output=True, timeout=120)
        if run.returncode:
            raise TrialError(f"initdb failed in {data}: {run.stderr.decode(errors='replace')[-1500:]}")
    as_user = _as_postgres_user(folder, chown=False)
    password = secret.read_text().strip()
    run = subprocess.run(as_user + [pg_ctl, "-D", str(data), "-l", str(log), "-w", "-t", "60", "-o",
                                    f"-p {port} -k {folder} -c listen_addresses=127.0.0.1 -c max_connections=200",
                                    "start"], capture_output=True, timeout=90)
    if run.returncode:
        tail = log.read_text(errors="replace")[-1500:] if log.exists() else ""
        raise TrialError(f"PostgreSQL did not start: {run.stderr.decode(errors='replace')[-1500:]}\n{tail}")
    try:
        login = "postgres" if auth == "trust" else f"postgres:{password}"
        yield f"postgresql://{login}@127.0.0.1:{port}"
    finally:
        # fast: roll back open transactions, but write a checkpoint so the next start needs no recovery
        subprocess.run(as_user + [pg_ctl, "-D", str(data), "-m", "fast", "-w", "stop"], capture_output=True,
                       timeout=60)


def create_database(server: str, name: str) -> str:
    """The URL of database `name` on `server` (a URL without a database), created if missing."""
    import psycopg

    with psycopg.connect(f"{server}/postgres", autocommit=True, connect_timeout=10) as conn:
        if not conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone():
            conn.execute(f'CREATE DATABASE "{name}"')
    return f"{server}/{name}"


# ---------------------------------------------------------------------------- app processes
@dataclass
class App:
    """One app process: its port, its process (replaced by `restart`) and its log."""

    port: int
    env: dict
    log: Path
    proc: subprocess.Popen | None = None
    restarts: int = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, timeout: float = 180) -> None:
        with open(self.log, "a") as out:
            self.proc = subprocess.Popen(streamlit_command(ROOT / "app.py", self.port, SERVED_FLAGS), cwd=ROOT,
                                         env=self.env, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)
        wait_healthy(self.url, self.proc, timeout, f"the app process on port {self.port}", self.log)

    def restart(self, timeout: float = 180) -> None:
        self.restarts += 1
        self.start(timeout)


def app_env(database_url: str, index_dir: Path, content_dir: Path, cookie_secret: str,
            base: dict | None = None) -> dict:
    """The environment of every app process of a class (what deploy/systemd/mlprep.env sets on a host)."""
    env = dict(os.environ if base is None else base)
    env.update(MLPREP_SERVED="1", MLPREP_READONLY="1", MLPREP_TRUST_PROXY="1", MLPREP_DATABASE_URL=database_url,
               MLPREP_INDEX=str(index_dir), MLPREP_CONTENT=str(content_dir), HF_HUB_OFFLINE="1",
               STREAMLIT_SERVER_COOKIE_SECRET=cookie_secret)
    env.pop("MLPREP_DATABASE", None)
    return env


# ---------------------------------------------------------------------------- nginx
def nginx_config(listen_port: int, app_ports: list[int], folder: Path) -> str:
    """The whole nginx.conf of a trial: every path in `folder`, the upstream of `app_ports`, and the site's shared
    parts (deploy/nginx/mlprep-http.conf, mlprep-proxy.conf) included from the checkout."""
    servers = "\n".join(f"        server 127.0.0.1:{p} max_fails=1 fail_timeout=10s;" for p in app_ports)
    temp = "\n".join(f"    {kind}_temp_path {folder / 'temp' / kind};"
                     for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
    return f"""# Written by deploy/trial.py for one `make class` (on a host: deploy/nginx/mlprep-site.conf).
worker_processes 1;
pid {folder / 'nginx.pid'};
error_log {folder / 'error.log'} warn;

events {{
    worker_connections 1024;
}}

http {{
    access_log {folder / 'access.log'};
{temp}

    include {DEPLOY / 'nginx' / 'mlprep-http.conf'};

    upstream mlprep {{
        hash $mlprep_route consistent;
{servers}
    }}

    server {{
        listen 127.0.0.1:{listen_port};
        server_name localhost;
        include {DEPLOY / 'nginx' / 'mlprep-proxy.conf'};
    }}
}}
"""


@contextlib.contextmanager
def nginx(listen_port: int, app_ports: list[int], folder: Path, timeout: float = 30):
    """Debian's nginx in the foreground with `nginx_config`, healthy through to an app; yields the process."""
    if not Path(NGINX).exists():
        raise TrialError(f"nginx is not at {NGINX}: install it (apt-get install nginx) or set MLPREP_NGINX")
    (folder / "temp").mkdir(parents=True, exist_ok=True)
    conf = folder / "nginx.conf"
    conf.write_text(nginx_config(listen_port, app_ports, folder))
    log = folder / "error.log"
    cmd = [NGINX, "-p", str(folder), "-c", str(conf), "-e", str(log), "-g", "daemon off;"]
    check = subprocess.run(cmd + ["-t", "-q"], capture_output=True, timeout=30)
    if check.returncode:
        raise TrialError(f"nginx refuses {conf}: {check.stderr.decode(errors='replace')[-1500:]}")
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        wait_healthy(f"http://127.0.0.1:{listen_port}", proc, timeout, f"nginx on port {listen_port}", log)
        yield proc
    finally:
        stop(proc, sig=signal.SIGQUIT)  # graceful: finish the requests in flight


# ---------------------------------------------------------------------------- the whole class
@dataclass
class Trial:
    url: str  # nginx: what students open
    database_url: str
    apps: list[App] = field(default_factory=list)
    nginx: subprocess.Popen | None = None


@contextlib.contextmanager
def class_trial(apps: int, folder: Path, index_dir: Path, content_dir: Path, port: int | None = None,
                database_url: str | None = None, base_env: dict | None = None, app_timeout: float = 180):
    """PostgreSQL (unless `database_url` names one), `apps` app processes and nginx on `port` (free if None), with
    their files in `folder`. Yields a Trial; stops everything at the end. Raises TrialError when a part does not
    start, or when `index_dir` holds no index."""
    if apps < 1:
        raise TrialError(f"a class needs at least one app process (got {apps})")
    if not (index_dir / "CURRENT").exists():
        raise TrialError(f"no index in {index_dir}: build it first (make index, or python -m ingest --index "
                         f"{index_dir})")
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "logs").mkdir(exist_ok=True)
    port = port or free_port()
    with contextlib.ExitStack() as stack:
        if database_url is None:
            database_url = create_database(stack.enter_context(postgres(folder / "postgres")), "mlprep")
        env = app_env(database_url, index_dir, content_dir, secrets.token_urlsafe(32), base_env)
        trial = Trial(f"http://127.0.0.1:{port}", database_url)
        for _ in range(apps):
            app_port = free_port()
            trial.apps.append(App(app_port, env, folder / "logs" / f"app-{app_port}.log"))
        stack.callback(lambda: [stop(a.proc) for a in reversed(trial.apps) if a.proc is not None])
        for app in trial.apps:  # one at a time: each loads the model and the index
            app.start(app_timeout)
        trial.nginx = stack.enter_context(nginx(port, [a.port for a in trial.apps], folder / "nginx"))
        yield trial


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n\n")[0])
    parser.add_argument("--apps", type=int, default=3, help="app processes (default 3)")
    parser.add_argument("--port", type=int, default=8500, help="nginx's port on 127.0.0.1 (default 8500)")
    parser.add_argument("--index", type=Path, default=Path(os.environ.get("MLPREP_INDEX") or ROOT / "build" / "index"))
    parser.add_argument("--content", type=Path, default=Path(os.environ.get("MLPREP_CONTENT") or ROOT / "content"))
    parser.add_argument("--folder", type=Path, default=ROOT / "build" / "class",
                        help="PostgreSQL's data, nginx's files and the app logs (default build/class)")
    args = parser.parse_args(argv)
    def interrupt(*_):
        raise KeyboardInterrupt

    # Ctrl+C and SIGTERM stop everything, also while starting (and when a shell started us with SIGINT ignored)
    signal.signal(signal.SIGINT, interrupt)
    signal.signal(signal.SIGTERM, interrupt)
    try:
        with class_trial(args.apps, args.folder.resolve(), args.index.resolve(), args.content.resolve(),
                         port=args.port) as trial:
            print(f"make class: {len(trial.apps)} app process{'es' if len(trial.apps) != 1 else ''} (ports "
                  f"{', '.join(str(a.port) for a in trial.apps)}), PostgreSQL, nginx.\n"
                  f"  Open {trial.url}  (logs in {args.folder}/logs and {args.folder}/nginx; Ctrl+C stops all)",
                  flush=True)
            while True:
                time.sleep(1)
                if trial.nginx.poll() is not None:
                    print(f"make class: nginx exited ({trial.nginx.returncode}); see {args.folder}/nginx/error.log",
                          file=sys.stderr)
                    return 1
                for app in trial.apps:
                    if app.proc.poll() is not None:
                        print(f"make class: the app on port {app.port} exited ({app.proc.returncode}); nginx sends "
                              "its students to the others while it starts again", flush=True)
                        app.restart()
    except KeyboardInterrupt:
        pass
    except TrialError as exc:
        print(f"make class: {exc}", file=sys.stderr)
        return 1
    print("make class: stopped nginx, the app processes and PostgreSQL.")
    return 0
