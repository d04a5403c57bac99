"""Shared fixtures: a real Postgres, the fake Graph API, and a way to run the script as cron does."""

from __future__ import annotations

import io
import json
import os
import pwd
import py_compile
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
import pytest

from tests.databases import database_beside, embedded_database
from tests.fake_graph import FakeAccount, FakeGraph

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "ingest_instagram.py"
LAUNCH = f"import sys; sys.path.insert(0, {str(ROOT)!r}); import ingest_instagram; sys.exit(ingest_instagram.main())"
sys.path.insert(0, str(ROOT))

import ingest_instagram  # noqa: E402

# The suite starts the script hundreds of times. Its compiled form is written once, here, for all of
# them to load: a machine that sets PYTHONDONTWRITEBYTECODE (as this project's CI does) would otherwise
# have every run compile the whole file again.
py_compile.compile(str(SCRIPT), doraise=True)

# Variables the script reads: the tests set each one they need, never inherit them.
SCRIPT_VARIABLES = {
    "DATABASE_URL", "INSTAGRAM_APP_ID", "INSTAGRAM_APP_SECRET", "INSTAGRAM_GRAPH_URL", "FACEBOOK_GRAPH_URL",
    "GRAPH_API_VERSION", "MAX_REQUESTS_PER_RUN", "MAX_PAGES_PER_ACCOUNT", "SLEEP_BETWEEN_ACCOUNTS", "HTTP_TIMEOUT",
    "HTTP_RETRIES", "RETRY_BACKOFF", "INITIAL_BACKFILL_DAYS", "USAGE_THRESHOLD", "SYNC_RUNS_KEEP_DAYS",
    "STALE_AFTER_HOURS", "GITHUB_STEP_SUMMARY", "EVENT_TIMEZONE", "EVENT_DATE_ORDER", "INSTAGRAM_REDIRECT_URI",
    "MAX_RUN_SECONDS", "CRON_SECRET", "INSTAGRAM_AUTHORIZE_URL", "INSTAGRAM_API_URL",
}  # fmt: skip
TABLES = ("instagram_events", "instagram_club_events", "instagram_posts", "instagram_accounts", "instagram_sync_runs",
          "instagram_link_requests")  # fmt: skip


@pytest.fixture(scope="session")
def database_url() -> Iterator[str]:
    """TEST_DATABASE_URL when set, else an embedded PostgreSQL started from its pip package."""
    url = os.environ.get("TEST_DATABASE_URL")
    worker = os.environ.get("PYTEST_XDIST_WORKER")
    if url:  # parallel workers each get a database of their own on that server
        yield database_beside(url, worker) if worker else url
        return
    with embedded_database("ingest-test-pg-") as url:
        yield url


@pytest.fixture
def db(database_url: str) -> Iterator[psycopg.Connection]:
    """An autocommit connection to a database whose tables start empty, created as the script would."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("DROP TABLE IF EXISTS " + ", ".join(TABLES) + " CASCADE")  # the view goes with them
        yield conn


@pytest.fixture
def fake() -> Iterator[FakeGraph]:
    graph = FakeGraph().start()
    yield graph
    graph.stop()


@dataclass
class Result:
    """What a person running the script sees: exit status, stdout, stderr."""

    status: int
    stdout: str
    stderr: str

    @property
    def summary(self) -> dict[str, Any]:
        lines = self.stdout.strip().splitlines()
        assert len(lines) == 1, f"expected one JSON line on stdout, got: {self.stdout!r}\nstderr: {self.stderr}"
        return json.loads(lines[0])


@pytest.fixture
def script_env(database_url: str, fake: FakeGraph) -> dict[str, str]:
    """The environment of a run against the fake API, with no waits."""
    env = {k: v for k, v in os.environ.items() if k not in SCRIPT_VARIABLES and k != "TEST_DATABASE_URL"}
    env.update(
        DATABASE_URL=database_url,
        INSTAGRAM_GRAPH_URL=fake.instagram_url,
        FACEBOOK_GRAPH_URL=fake.facebook_url,
        INSTAGRAM_API_URL=fake.api_url,
        INSTAGRAM_AUTHORIZE_URL=fake.api_url,
        INSTAGRAM_REDIRECT_URI=fake.redirect_uri,
        INSTAGRAM_APP_ID=fake.app_id,
        INSTAGRAM_APP_SECRET=fake.app_secret,
        SLEEP_BETWEEN_ACCOUNTS="0",
        RETRY_BACKOFF="0",
        HTTP_TIMEOUT="5",
    )
    return env


@pytest.fixture
def run(script_env: dict[str, str], tmp_path: Path):
    """Run the script in a process of its own from an empty folder, as cron would: through its
    module's main(), which is all ``python ingest_instagram.py`` calls, so that each of the suite's
    hundreds of runs loads the module compiled once (__pycache__) instead of compiling the whole file
    again (about 55 ms a run). Tests that start ``python ingest_instagram.py`` itself use SCRIPT."""

    def _run(*args: str, timeout: float = 60, input: str | None = None, **env: str) -> Result:
        proc = subprocess.run(
            [sys.executable, "-c", LAUNCH, *args],
            env={**script_env, **env},
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=timeout,
            input=input,
        )
        result = Result(proc.returncode, proc.stdout, proc.stderr)
        _run.results.append(result)
        return result

    _run.results = []  # every run of the test, for the leak checks
    return _run


@pytest.fixture
def cli(script_env: dict[str, str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture):
    """``ingest_instagram.py ARGS`` for what stops before any database or network work (a bad setting or
    argument, --help, parse-caption), run through the same main() in this process: the exit status,
    stdout and stderr a user sees, without a Python start-up for each."""

    def _cli(*args: str, input: str | None = None, **env: str) -> Result:
        monkeypatch.setattr(os, "environ", {**script_env, **env})  # .env loading writes here, not to ours
        monkeypatch.chdir(tmp_path)
        monkeypatch.setattr(sys, "stdin", io.StringIO(input or ""))
        capfd.readouterr()
        try:
            status = ingest_instagram.main(list(args))
        except SystemExit as exc:  # argparse: --help, or a bad argument
            status = exc.code if isinstance(exc.code, int) else 0
        out, err = capfd.readouterr()
        return Result(status, out, err)

    return _cli


@pytest.fixture
def link(db: psycopg.Connection):
    """Link a fake account the Phase 1 way: a row inserted by hand with only the design's columns."""
    ingest_instagram.ensure_schema(db)

    def _link(account: FakeAccount, *, name: str | None = None, priority: int = 2, token: str | None = None,
              expires_in: timedelta = timedelta(days=50)) -> int:  # fmt: skip
        return db.execute(
            """INSERT INTO instagram_accounts (ig_user_id, account_name, access_token, token_expires_at, priority)
               VALUES (%s, %s, %s, %s, %s) RETURNING id""",
            (
                account.ig_user_id,
                name or account.username,
                token or account.token,
                datetime.now(timezone.utc) + expires_in,
                priority,
            ),  # fmt: skip
        ).fetchone()[0]

    return _link


def stored_posts(db: psycopg.Connection, account: FakeAccount) -> list[str]:
    """media_ids stored for an account, newest first."""
    rows = db.execute(
        'SELECT media_id FROM instagram_posts WHERE ig_user_id = %s ORDER BY "timestamp" DESC, media_id',
        (account.ig_user_id,),
    )
    return [r[0] for r in rows]


def account_row(db: psycopg.Connection, account: FakeAccount) -> dict[str, Any]:
    cur = db.execute("SELECT * FROM instagram_accounts WHERE ig_user_id = %s", (account.ig_user_id,))
    names = [c.name for c in cur.description]
    return dict(zip(names, cur.fetchone()))


def wait_for(condition: Callable[[], Any], what: str, timeout: float = 20) -> Any:
    """What ``condition()`` gives once it is true, polling; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not (value := condition()):
        if time.monotonic() > deadline:
            raise AssertionError(f"never happened: {what}")
        time.sleep(0.02)
    return value


def wait_until_blocked(db: psycopg.Connection, timeout: float = 20) -> int:
    """The pid of the script's backend once it waits for a lock the test holds."""
    row = wait_for(
        lambda: db.execute(
            """SELECT pid FROM pg_stat_activity WHERE application_name = 'ingest_instagram'
               AND wait_event_type = 'Lock' AND datname = current_database()"""  # another worker has its own
        ).fetchone(),
        "the script waiting for the lock the test holds",
        timeout,
    )
    return row[0]


def crash_while_waiting(db: psycopg.Connection, lock: str, params: tuple, env: dict[str, str], cwd: Path,
                        *args: str) -> None:  # fmt: skip
    """Run the script while another session holds a lock (``lock``, a statement) that one of its
    writes needs, and kill it there: the process and its database session, as a crash would. What
    was committed before that write stays; that write and all after it never happen."""
    with psycopg.connect(db.info.dsn, password=db.info.password or None) as blocker:
        blocker.execute(lock, params)
        proc = subprocess.Popen([sys.executable, str(SCRIPT), *args], env=env, cwd=cwd,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        try:
            backend = wait_until_blocked(db)
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait(10)
            db.execute("SELECT pg_terminate_backend(%s)", (backend,))
        finally:
            proc.kill()
        blocker.rollback()


def pgbouncer_binary() -> str | None:
    return shutil.which("pgbouncer") or next((p for p in ("/usr/sbin/pgbouncer",) if os.path.exists(p)), None)


@pytest.fixture
def pgbouncer_url(database_url: str) -> Iterator[str]:
    """The test database behind a PgBouncer in transaction mode, as Supabase's pooler on port 6543 is."""
    binary = pgbouncer_binary()
    if binary is None:
        if os.environ.get("CI"):  # .ci/run installs it: there, a missing pooler is a failure, not a skip
            pytest.fail("pgbouncer is not installed, and CI must run the pooler tests")
        pytest.skip("pgbouncer is not installed (Debian: apt-get install pgbouncer)")
    params = psycopg.conninfo.conninfo_to_dict(database_url)
    host, port = params.get("host") or "127.0.0.1", params.get("port") or "5432"
    work = Path(tempfile.mkdtemp(prefix="ingest-pgbouncer-"))  # not under tmp_path: PgBouncer's own user must reach it
    work.chmod(0o777)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        listen_port = probe.getsockname()[1]
    (work / "pgbouncer.ini").write_text(
        f"[databases]\npooled = host={host} port={port} dbname={params.get('dbname', 'postgres')} "
        f"user={params.get('user', 'postgres')}\n"
        f"[pgbouncer]\nlisten_addr = 127.0.0.1\nlisten_port = {listen_port}\nauth_type = any\n"
        # Few server connections, so that the statements of overlapping runs share them, as on Supabase.
        f"pool_mode = transaction\ndefault_pool_size = 3\nunix_socket_dir =\n"
        f"logfile = {work}/pgbouncer.log\npidfile = {work}/pgbouncer.pid\n"
    )
    command = [binary, str(work / "pgbouncer.ini")]
    if os.geteuid() == 0:  # PgBouncer will not run as root: run it as whoever can reach the server
        owner = pwd.getpwuid(os.stat(host).st_uid).pw_name if host.startswith("/") else "nobody"
        command[1:1] = ["-u", owner]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"postgresql://postgres@127.0.0.1:{listen_port}/pooled"
    try:
        deadline = time.monotonic() + 10
        while True:  # wait until it listens
            try:
                psycopg.connect(url, connect_timeout=2).close()
                break
            except psycopg.OperationalError:
                if time.monotonic() > deadline or proc.poll() is not None:
                    raise
                time.sleep(0.05)
        yield url
    finally:
        proc.terminate()
        proc.wait(10)
        shutil.rmtree(work, ignore_errors=True)
