"""Where Connect3 runs: api/cron.py served as Vercel serves it (a BaseHTTPRequestHandler, here in a
stdlib ThreadingHTTPServer on 127.0.0.1) and called over real HTTP, the run deadline, and the SQL that
makes Supabase Cron trigger a sync, run in a real Postgres against stand-ins of pg_cron, pg_net and Vault."""

from __future__ import annotations

import importlib.util
import json
import os
import re
import threading
import time
from collections.abc import Iterator
from http.server import ThreadingHTTPServer
from pathlib import Path

import pytest
import requests

from tests.conftest import ROOT, account_row, stored_posts

SECRET = "cron-secret-0123456789abcdef"


@pytest.fixture
def cron(script_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    """The Vercel function on 127.0.0.1, reading its settings from the environment as on Vercel."""
    spec = importlib.util.spec_from_file_location("vercel_cron", ROOT / "api" / "cron.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    monkeypatch.setattr(os, "environ", {**script_env, "CRON_SECRET": SECRET})
    server = ThreadingHTTPServer(("127.0.0.1", 0), module.handler)
    threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/api/cron"
    server.shutdown()
    server.server_close()


def _get(url: str, secret: str | None = SECRET, **params: str) -> requests.Response:
    headers = {"Authorization": f"Bearer {secret}"} if secret is not None else {}
    return requests.get(url, params=params, headers=headers, timeout=60)


def _runs(db) -> int:
    if db.execute("SELECT to_regclass('instagram_sync_runs')").fetchone()[0] is None:
        return 0
    return db.execute("SELECT count(*) FROM instagram_sync_runs").fetchone()[0]


@pytest.mark.parametrize("secret", [None, "wrong-secret-0123456789", f"{SECRET}x"])
def test_a_call_without_the_right_bearer_is_refused_and_runs_nothing(capfd, cron, fake, link, db, secret):
    link(fake.add_account("club", posts=3))
    capfd.readouterr()

    answer = _get(cron, secret)

    assert (answer.status_code, answer.json()) == (401, {"success": False, "error": "unauthorized"})
    assert fake.requests == [] and _runs(db) == 0
    logged = capfd.readouterr().err.strip().splitlines()
    assert len(logged) == 1 and "refused a request" in logged[0], logged


@pytest.mark.parametrize("value", ["", "short-secret"])
def test_an_unset_or_short_cron_secret_answers_500_and_never_runs(cron, fake, link, db, monkeypatch, value):
    link(fake.add_account("club", posts=3))
    monkeypatch.setitem(os.environ, "CRON_SECRET", value)

    answer = _get(cron, value)

    assert answer.status_code == 500
    assert answer.json()["error"].startswith("CRON_SECRET is not set")
    assert fake.requests == [] and _runs(db) == 0


def test_a_method_other_than_get_is_405(cron, fake):
    answer = requests.post(cron, headers={"Authorization": f"Bearer {SECRET}"}, timeout=10)

    assert answer.status_code == 405
    assert fake.requests == []


def test_an_authorised_get_runs_a_batch_and_answers_its_summary(cron, fake, link, db):
    clubs = [fake.add_account(f"club{n}", posts=3) for n in range(2)]
    for club in clubs:
        link(club)

    answer = _get(cron)

    assert answer.status_code == 200, answer.text
    summary = answer.json()
    assert (summary["success"], summary["accounts_processed"], summary["posts_inserted"]) == (True, 2, 6)
    assert [len(stored_posts(db, c)) for c in clubs] == [3, 3] and _runs(db) == 1
    assert not any(c.token in answer.text or SECRET in answer.text for c in clubs)


def test_sync_now_for_one_account_and_a_dry_run(cron, fake, link, db):
    one, other = fake.add_account("one", posts=2), fake.add_account("other", posts=2)
    link(one, name="One Club")
    link(other)

    dry = _get(cron, account="One Club", dry_run="1")
    now = _get(cron, account="One Club")

    assert dry.status_code == 200 and dry.json()["dry_run"] is True
    assert now.json()["accounts_processed"] == 1
    assert (len(stored_posts(db, one)), len(stored_posts(db, other))) == (2, 0)


def test_a_failing_account_answers_500_with_the_summary(cron, fake, link, db):
    club = fake.add_account("broken", posts=2)
    link(club)
    fake.fault(club, "error", code=10, message="Application does not have permission for this action")

    answer = _get(cron)

    assert answer.status_code == 500
    assert (answer.json()["success"], answer.json()["accounts_failed"]) == (False, 1)


def test_a_bad_setting_answers_500_with_one_line(cron, monkeypatch):
    monkeypatch.setitem(os.environ, "DATABASE_URL", "")

    answer = _get(cron)

    assert answer.status_code == 500
    assert answer.json() == {"success": False, "error": answer.json()["error"]}
    assert "DATABASE_URL is not set" in answer.json()["error"]


def test_the_deadline_stops_the_run_in_time_and_the_next_run_goes_on(cron, fake, link, db, monkeypatch):
    clubs = [fake.add_account(f"slow{n}", posts=300) for n in range(3)]
    for club in clubs:
        link(club)
    fake.latency = 0.3
    monkeypatch.setitem(os.environ, "MAX_RUN_SECONDS", "1")
    monkeypatch.setitem(os.environ, "MAX_PAGES_PER_ACCOUNT", "5")

    first = _get(cron).json()
    fake.latency = 0
    stored_then, walks_then = len(stored_posts(db, clubs[0])), account_row(db, clubs[0])["pending_walks"]
    second = _get(cron).json()

    assert (first["stopped_by_deadline"], first["success"], first["accounts_processed"]) == (True, True, 1)
    assert first["accounts_skipped"] == 2
    assert first["requests_made"] < 5  # the page written when time ran out was its last, short of the cap
    assert walks_then  # its walk resumes next run
    assert second["stopped_by_deadline"] is False and second["accounts_processed"] == 3
    assert len(stored_posts(db, clubs[0])) > stored_then
    assert all(account_row(db, c)["last_checked_at"] is not None for c in clubs)


def test_vercel_json_declares_the_function_and_a_cron_hobby_accepts():
    config = json.loads((ROOT / "vercel.json").read_text())

    import ingest_instagram

    assert config["functions"]["api/cron.py"]["maxDuration"] == ingest_instagram.VERCEL_MAX_DURATION_S
    (job,) = config["crons"]
    assert job["path"] == "/api/cron"
    minute, hour, *_ = job["schedule"].split()
    assert minute.isdigit() and hour.isdigit()  # once a day: more often fails a Hobby deployment


# -- triggers that do not drift ---------------------------------------------------------------------

STAND_INS = """
DROP SCHEMA IF EXISTS cron, net, vault CASCADE;
CREATE SCHEMA cron; CREATE SCHEMA net; CREATE SCHEMA vault;
CREATE TABLE cron.job (jobid serial PRIMARY KEY, jobname text UNIQUE, schedule text, command text);
CREATE FUNCTION cron.schedule(job_name text, schedule text, command text) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO cron.job (jobname, schedule, command) VALUES (job_name, schedule, command) RETURNING jobid $$;
CREATE FUNCTION cron.unschedule(job_name text) RETURNS boolean LANGUAGE sql AS $$
    DELETE FROM cron.job WHERE jobname = job_name RETURNING true $$;
CREATE TABLE net.calls (method text, url text, body jsonb, headers jsonb, timeout_milliseconds int);
CREATE FUNCTION net.http_get(url text, params jsonb DEFAULT '{}', headers jsonb DEFAULT '{}',
                             timeout_milliseconds int DEFAULT 5000) RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO net.calls VALUES ('GET', url, NULL, headers, timeout_milliseconds) RETURNING 1::bigint $$;
CREATE FUNCTION net.http_post(url text, body jsonb DEFAULT '{}', params jsonb DEFAULT '{}',
                              headers jsonb DEFAULT '{}', timeout_milliseconds int DEFAULT 5000)
    RETURNS bigint LANGUAGE sql AS $$
    INSERT INTO net.calls VALUES ('POST', url, body, headers, timeout_milliseconds) RETURNING 1::bigint $$;
CREATE TABLE vault.secrets (id serial PRIMARY KEY, name text UNIQUE, secret text, description text);
CREATE VIEW vault.decrypted_secrets AS SELECT id, name, secret AS decrypted_secret FROM vault.secrets;
CREATE FUNCTION vault.create_secret(new_secret text, new_name text DEFAULT NULL, new_description text DEFAULT '')
    RETURNS int LANGUAGE sql AS $$
    INSERT INTO vault.secrets (name, secret, description) VALUES (new_name, new_secret, new_description)
    RETURNING id $$;
"""


@pytest.fixture
def supabase(db) -> Iterator:
    db.execute(STAND_INS)
    yield db
    db.execute("DROP SCHEMA IF EXISTS cron, net, vault CASCADE")


def _apply(db, sql: str, placeholder: str, value: str) -> None:
    assert value not in sql
    db.execute(sql.replace(placeholder, value))


def test_schedule_sql_makes_supabase_cron_call_the_function_off_the_hour(cli, supabase):
    printed = cli("schedule-sql", "--url", "https://connect3.example/api/cron", DATABASE_URL="")
    assert printed.status == 0, printed.stderr

    _apply(supabase, printed.stdout, "<CRON_SECRET>", SECRET)
    _apply(supabase, printed.stdout, "<CRON_SECRET>", SECRET)  # again: the job is replaced, not doubled
    ((name, schedule, command),) = supabase.execute("SELECT jobname, schedule, command FROM cron.job").fetchall()
    supabase.execute(command)

    assert (name, schedule) == ("connect3-instagram-sync", "7,37 * * * *")
    ((method, url, headers, timeout),) = supabase.execute(
        "SELECT method, url, headers, timeout_milliseconds FROM net.calls").fetchall()  # fmt: skip
    assert (method, url) == ("GET", "https://connect3.example/api/cron")
    assert headers == {"Authorization": f"Bearer {SECRET}"} and timeout >= 300_000
    assert SECRET not in command  # read from Vault when the job runs


def test_schedule_sql_can_dispatch_the_github_workflow_instead(cli, supabase):
    printed = cli("schedule-sql", "--github", "connect3/ingest", "--every", "15", "--name", "gh-sync",
                  DATABASE_URL="")  # fmt: skip
    placeholder = re.search(r"'(<GITHUB_TOKEN[^>]*>)'", printed.stdout).group(1)

    _apply(supabase, printed.stdout, placeholder, "ghp_testtoken123")
    ((schedule, command),) = supabase.execute("SELECT schedule, command FROM cron.job").fetchall()
    supabase.execute(command)

    assert schedule == "7,22,37,52 * * * *"
    ((method, url, body, headers),) = supabase.execute("SELECT method, url, body, headers FROM net.calls").fetchall()
    assert (method, url) == ("POST", "https://api.github.com/repos/connect3/ingest/actions/workflows/"
                                     "instagram-sync.yml/dispatches")  # fmt: skip
    assert body == {"ref": "main"} and headers["Authorization"] == "Bearer ghp_testtoken123"
    assert headers["Accept"] == "application/vnd.github+json"


@pytest.mark.parametrize(
    ("every", "schedule"), [("60", "7 * * * *"), ("120", "7 */2 * * *"), ("10", "7,17,27,37,47,57 * * * *")]
)
def test_schedules_never_fire_on_the_hour_or_the_half_hour(cli, every, schedule):
    printed = cli("schedule-sql", "--url", "https://c.example/api/cron", "--every", every)

    assert f"'{schedule}'" in printed.stdout


@pytest.mark.parametrize(
    "args",
    [
        ["--url", "http://c.example/api/cron"],
        ["--url", "https://c.example/x'; DROP"],
        ["--github", "not a repo"],
        ["--url", "https://c.example/a", "--every", "7"],
    ],
)
def test_schedule_sql_refuses_what_would_make_bad_sql(cli, args):
    result = cli("schedule-sql", *args)

    assert result.status == 2 and result.stdout == ""


def test_the_workflow_runs_off_peak_with_a_manual_sync_and_a_deadline_below_its_timeout():
    text = (Path(ROOT) / ".github" / "workflows" / "instagram-sync.yml").read_text()

    assert re.search(r'cron: "7,37 \* \* \* \*"', text)
    assert re.search(r"workflow_dispatch:\s+inputs:\s+account:", text)
    timeout = int(re.search(r"timeout-minutes: (\d+)", text).group(1))
    deadline = int(re.search(r'MAX_RUN_SECONDS: "(\d+)"', text).group(1))
    assert deadline < timeout * 60


def test_no_wait_runs_past_the_deadline(fake, link, run):
    """A back-off of 30 s and 30 s between accounts, a deadline of 1 s: the run ends soon after it."""
    first, second = fake.add_account("retried", posts=2), fake.add_account("waiting", posts=2)
    link(first, priority=1)
    link(second, priority=2)
    fake.fault(first, "html", status=502, times=2)
    started = time.monotonic()

    result = run(MAX_RUN_SECONDS="1", RETRY_BACKOFF="30", HTTP_RETRIES="2", SLEEP_BETWEEN_ACCOUNTS="30")

    assert time.monotonic() - started < 15
    assert result.status == 0, result.stderr
    assert result.summary["stopped_by_deadline"] is True
