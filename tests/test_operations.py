"""Operating it: linking accounts, watching their health, manual and dry runs, run records,
overlapping runs, the Actions summary, poolers and row level security."""

from __future__ import annotations

import json
import re
import socket
import subprocess
import sys
import threading
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from tests.conftest import SCRIPT, account_row, stored_posts

DAY = timedelta(days=1)


def _close(a: datetime, b: datetime) -> bool:
    return abs(a - b) < timedelta(minutes=5)


# -- add-account ---------------------------------------------------------------


def test_add_account_exchanges_a_short_lived_token_and_prints_no_token(fake, db, run):
    club = fake.add_account("dscubed.unimelb")
    short = fake.short_lived_token(club)

    result = run("add-account", "--token", short, "--name", "DSCubed", "--priority", "1")

    assert result.status == 0, result.stderr
    me, exchange = fake.requests
    assert (me.path, me.params["fields"]) == ("/v25.0/me", "user_id,username,account_type")
    assert exchange.path == "/access_token"
    assert exchange.params["grant_type"] == "ig_exchange_token"
    assert exchange.params["client_secret"] == fake.app_secret
    row = account_row(db, club)
    assert row["access_token"] == club.token != short
    assert (row["account_name"], row["priority"]) == ("DSCubed", 1)
    assert _close(row["token_expires_at"], datetime.now(timezone.utc) + 60 * DAY)
    assert f"Linked DSCubed (@dscubed.unimelb, ig_user_id {club.ig_user_id}" in result.stdout
    for secret in (short, club.token, fake.app_secret):
        assert secret not in result.stdout + result.stderr


def test_add_account_reads_the_token_from_stdin(fake, db, run):
    club = fake.add_account("stdinclub")

    result = run("add-account", "--token", "-", input=fake.short_lived_token(club) + "\n")

    assert result.status == 0, result.stderr
    assert account_row(db, club)["account_name"] == "stdinclub"


def test_add_account_accepts_me_wrapped_in_data(fake, db, run):
    fake.wrap_me = True
    club = fake.add_account("wrapped")

    assert run("add-account", "--token", fake.short_lived_token(club)).status == 0

    assert account_row(db, club)["ig_user_id"] == club.ig_user_id


def test_add_account_with_a_long_lived_token_learns_its_expiry_by_refreshing(fake, db, run):
    club = fake.add_account("longlived", token_age=3 * DAY)
    given = club.token

    result = run("add-account", "--token", given)

    assert result.status == 0, result.stderr
    assert [r.path for r in fake.requests] == ["/v25.0/me", "/access_token", "/refresh_access_token"]
    row = account_row(db, club)
    assert row["access_token"] == club.token != given
    assert _close(row["token_expires_at"], datetime.now(timezone.utc) + 60 * DAY)


def test_relinking_replaces_the_token_and_clears_the_reauth_mark(fake, link, db, run):
    club = fake.add_account("relink", posts=2)
    link(club, name="Relink Club", priority=3)
    fake.fault(club, "error", status=400, code=190, subcode=460, message="password changed")
    run()
    assert account_row(db, club)["status"] == "needs_reauth"

    result = run("add-account", "--token", fake.short_lived_token(club))

    assert result.status == 0, result.stderr
    assert "Re-linked (token replaced) Relink Club" in result.stdout
    row = account_row(db, club)
    assert (row["status"], row["account_name"], row["priority"]) == ("active", "Relink Club", 3)
    assert row["last_error"] is None
    assert run().summary["accounts_processed"] == 1


def test_add_account_with_a_rejected_token_stores_nothing(fake, link, db, run):
    result = run("add-account", "--token", "IGAAnot-a-real-token-0000")

    assert result.status == 1
    assert "Meta refused: Invalid OAuth access token" in result.stderr
    assert "IGAAnot-a-real-token-0000" not in result.stderr
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)


def test_add_account_rejects_a_priority_outside_1_to_3(cli):
    result = cli("add-account", "--token", "IGAAx", "--priority", "4")

    assert result.status == 2
    assert "priority is 1 (high), 2 (normal) or 3 (low)" in result.stderr


def test_add_account_with_a_facebook_token_needs_the_account_id(fake, db, run):
    club = fake.add_account("fbclub", login="facebook")

    refused = run("add-account", "--token", club.token)
    linked = run("add-account", "--token", club.token, "--ig-user-id", club.ig_user_id)

    assert refused.status == 2
    assert "needs --ig-user-id" in refused.stderr
    assert linked.status == 0, linked.stderr
    assert [(r.host, r.path) for r in fake.requests] == [
        ("facebook", f"/v25.0/{club.ig_user_id}"),
        ("facebook", "/v25.0/oauth/access_token"),
    ]
    assert account_row(db, club)["access_token"] == club.token


# -- status ----------------------------------------------------------------------


def test_status_shows_each_account_aligned_with_warnings(fake, link, db, run):
    healthy = fake.add_account("healthy", posts=3)
    expiring = fake.add_account("expiring", posts=1)
    broken = fake.add_account("broken", posts=1)
    link(healthy, name="Healthy Club")
    link(expiring, name="Expiring Club")
    link(broken, name="Broken Club")
    fake.fault(broken, "error", status=400, code=10, message="Application does not have permission")
    run()
    db.execute(
        "UPDATE instagram_accounts SET token_expires_at = now() + interval '3 days' WHERE ig_user_id = %s",
        (expiring.ig_user_id,),
    )

    result = run("status")

    assert result.status == 0, result.stderr
    lines = result.stdout.splitlines()
    header = lines[0]
    assert header.split() == "account prio state token checked newest post posts deleted last error".split()
    rows = {line.split("  ")[0]: line for line in lines[1:4]}
    assert re.search(r"Healthy Club\s+2\s+ok\s+49 d\s+just now\s+\d+ h ago\s+3\s+0\s*$", rows["Healthy Club"])
    assert " 2 d (!) " in rows["Expiring Club"]
    assert "failing" in rows["Broken Club"] and "Application does not have permission" in rows["Broken Club"]
    assert header.index("state") == rows["Healthy Club"].index("ok")  # columns line up
    assert "Last runs:" in result.stdout
    assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d\s+\d+ s\s+failed\s+2/1/0\s+4/0/0", result.stdout)
    for account in (healthy, expiring, broken):
        assert account.token not in result.stdout


def test_status_json_is_for_scripts(fake, link, run):
    club = fake.add_account("jsonclub", posts=2)
    link(club)
    run()

    result = run("status", "--json")

    data = json.loads(result.stdout)
    (account,) = data["accounts"]
    assert account["account_name"] == "jsonclub"
    assert account["posts"] == 2
    assert account["state"] == "ok"
    assert "access_token" not in account
    assert data["runs"][0]["posts_inserted"] == 2


# -- run --account and --dry-run ------------------------------------------------------


def test_run_one_account_syncs_only_it_even_if_checked_this_round(fake, link, db, run):
    first = fake.add_account("first", posts=2)
    second = fake.add_account("second", posts=2)
    link(first, name="First Club")
    link(second, name="Second Club")
    run()
    fake.publish(second, 2)
    fake.requests.clear()

    result = run("run", "--account", "second club")

    assert result.status == 0, result.stderr
    assert result.summary["posts_inserted"] == 2
    assert result.summary["accounts_processed"] == 1
    assert {r.path for r in fake.requests} == {f"/v25.0/{second.ig_user_id}/media"}


def test_run_one_account_by_id_or_ig_user_id(fake, link, run):
    club = fake.add_account("byid", posts=1)
    account_id = link(club)

    assert run("run", "--account", str(account_id)).summary["posts_inserted"] == 1
    assert run("run", "--account", club.ig_user_id).status == 0


def test_run_unknown_account_is_exit_2(db, run):
    result = run("run", "--account", "Nobody")

    assert result.status == 2
    assert "no linked account is named 'Nobody'" in result.stderr


def test_run_one_account_that_meta_throttles_says_why(fake, link, db, run):
    club = fake.add_account("waiting", posts=1)
    link(club, name="Waiting Club")
    db.execute("UPDATE instagram_accounts SET throttled_until = now() + interval '20 minutes'")

    result = run("run", "--account", "Waiting Club")

    assert result.status == 0
    assert "Waiting Club: not synced, Meta rate-limits it until" in result.stderr
    assert result.summary["accounts_skipped"] == 1
    assert fake.requests == []


def test_dry_run_reports_what_would_change_and_writes_nothing(fake, link, db, run):
    club = fake.add_account("dry", posts=10)
    link(club)
    run()
    db.execute("UPDATE instagram_accounts SET token_expires_at = now() + interval '1 day', token_issued_at = NULL")
    fake.publish(club, 3)
    club.posts[8].caption = "edited"
    before = (
        db.execute("SELECT count(*) FROM instagram_posts").fetchone(),
        account_row(db, club),
        db.execute("SELECT count(*) FROM instagram_sync_runs").fetchone(),
    )

    result = run("run", "--dry-run")

    assert result.status == 0, result.stderr
    summary = result.summary
    assert summary["dry_run"] is True
    assert (summary["posts_inserted"], summary["posts_updated"]) == (3, 1)
    assert "Would insert 3 new posts for dry" in result.stderr
    assert "due for a refresh (not done in a dry run)" in result.stderr
    assert [r.path for r in fake.requests[-1:]] == [f"/v25.0/{club.ig_user_id}/media"]
    after = (
        db.execute("SELECT count(*) FROM instagram_posts").fetchone(),
        account_row(db, club),
        db.execute("SELECT count(*) FROM instagram_sync_runs").fetchone(),
    )
    assert after == before


def test_dry_run_of_one_account(fake, link, db, run):
    club = fake.add_account("drysingle", posts=4)
    link(club, name="Dry Single")

    result = run("run", "--account", "Dry Single", "--dry-run")

    assert result.summary["posts_inserted"] == 4
    assert stored_posts(db, club) == []


# -- run records and the Actions summary -------------------------------------------------


def test_old_run_records_are_pruned(fake, link, db, run):
    link(fake.add_account("pruned", posts=1))
    run()
    db.execute("UPDATE instagram_sync_runs SET started_at = now() - interval '100 days'")
    db.execute("INSERT INTO instagram_sync_runs (started_at, finished_at) VALUES (now() - interval '10 days', now())")

    run()

    ages = [r[0] for r in db.execute("SELECT now() - started_at FROM instagram_sync_runs ORDER BY started_at")]
    assert len(ages) == 2 and ages[0] < timedelta(days=11)
    run(SYNC_RUNS_KEEP_DAYS="5")
    assert db.execute("SELECT count(*) FROM instagram_sync_runs").fetchone() == (2,)


def test_github_step_summary_gets_a_markdown_table(fake, link, run, tmp_path):
    ok = fake.add_account("okclub", posts=3)
    bad = fake.add_account("badclub", posts=3)
    link(ok, name="OK | Club")
    link(bad, name="Bad Club")
    fake.fault(bad, "error", status=400, code=100, message="Unsupported get request")
    summary_file = tmp_path / "summary.md"
    summary_file.write_text("earlier step\n")

    run(GITHUB_STEP_SUMMARY=str(summary_file))

    text = summary_file.read_text()
    assert text.startswith("earlier step\n### Instagram sync, ")
    assert "| account | new posts | updated | deleted | requests | result |" in text
    assert "| OK \\| Club | 3 | 0 | 0 | 1 | ok |" in text
    assert re.search(r"\| Bad Club \| 0 \| 0 \| 0 \| 1 \| failed: Unsupported get request .*\|", text)

    assert "1 synced, 1 failed, 0 skipped" in text


# -- overlapping runs ---------------------------------------------------------------------


def test_the_step_summary_charts_the_last_runs_for_github_to_draw(fake, link, run, tmp_path):
    link(fake.add_account("charted", posts=3))
    summary_file = tmp_path / "summary.md"
    run()
    run(GITHUB_STEP_SUMMARY=str(summary_file), MAX_REQUESTS_PER_RUN="40")

    chart = summary_file.read_text().split("```mermaid\n", 1)[1].split("```", 1)[0]

    assert chart.startswith("xychart-beta\n")
    assert "    bar [1, 1]" in chart and "    line [40, 40]" in chart
    assert re.search(r'x-axis \["\d\d \d\d:\d\d", "\d\d \d\d:\d\d"\]', chart)


def _first_pages(fake) -> dict[str, int]:
    counts: dict[str, int] = {}
    for request in fake.media_requests():
        if "after" not in request.params:
            counts[request.path] = counts.get(request.path, 0) + 1
    return counts


def test_four_overlapping_runs_fetch_each_account_exactly_once(fake, link, script_env, tmp_path):
    clubs = [fake.add_account(f"club{n:02d}", posts=3) for n in range(40)]
    for club in clubs:
        link(club)
    fake.latency = 0.05
    fake.meet(4)  # each run's first request waits for the other three: they overlap however loaded the machine is
    script_env["HTTP_TIMEOUT"] = "120"  # a slow answer under load must not be retried: it would count twice
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            env=script_env,
            cwd=tmp_path,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(4)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0, 0, 0], outputs
    counts = _first_pages(fake)
    assert len(counts) == 40
    assert set(counts.values()) == {1}
    processed = [json.loads(out)["accounts_processed"] for out, _ in outputs]
    assert sum(processed) == 40
    assert sum(1 for n in processed if n) >= 2  # the accounts were shared out


def test_a_run_that_joins_late_skips_accounts_already_checked(fake, link, db, run, script_env, tmp_path):
    clubs = [fake.add_account(f"late{n}", posts=2) for n in range(4)]
    for club in clubs:
        link(club)
    fake.fault(clubs[1], "hold")  # the first run checks late0, then hangs on late1
    script_env["HTTP_TIMEOUT"] = "120"  # longer than any hold: a held request is never retried
    first = subprocess.Popen([sys.executable, str(SCRIPT)], env=script_env, cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert fake.held.wait(20)
        joined = run()  # starts while the first still runs
    finally:
        fake.released.set()
    first.communicate(timeout=30)

    assert joined.summary["accounts_processed"] == 2  # late2 and late3 only
    assert set(_first_pages(fake).values()) == {1}
    fresh = run()  # nothing else runs now: a new round checks every account again
    assert fresh.summary["accounts_processed"] == 4


def test_a_manual_run_never_syncs_an_account_a_batch_is_syncing(fake, link, run, script_env, tmp_path):
    club = fake.add_account("contended", posts=2)
    link(club, name="Contended")
    fake.fault(club, "hold")
    script_env["HTTP_TIMEOUT"] = "120"  # longer than any hold: a held request is never retried
    batch = subprocess.Popen([sys.executable, str(SCRIPT)], env=script_env, cwd=tmp_path, text=True,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert fake.held.wait(20)
        manual = run("run", "--account", "Contended")
    finally:
        fake.released.set()
    batch.communicate(timeout=30)

    assert "Contended: another run is syncing it right now" in manual.stderr
    assert len(fake.media_requests(club)) == 1


# -- Supabase and real Postgres -------------------------------------------------------------


def test_overlapping_runs_through_a_transaction_mode_pooler_share_its_connections(
    fake, link, db, script_env, tmp_path, pgbouncer_url
):
    """Two runs whose statements share one server connection of the pooler: prepared statements,
    which live on a server connection, would collide there (psycopg names them alike in every client)."""
    clubs = [fake.add_account(f"pool{n:02d}", posts=2) for n in range(30)]
    for club in clubs:
        link(club)
    fake.latency = 0.01
    env = {**script_env, "DATABASE_URL": pgbouncer_url, "HTTP_TIMEOUT": "120"}
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            env=env,
            cwd=tmp_path,
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], outputs
    assert sum(json.loads(out)["accounts_processed"] for out, _ in outputs) == 30
    assert db.execute("SELECT count(*) FROM instagram_posts").fetchone() == (60,)


def test_core_sync_works_through_a_transaction_mode_pooler(fake, link, db, run, pgbouncer_url):
    club = fake.add_account("pooled", posts=120)
    link(club)

    first = run(DATABASE_URL=pgbouncer_url, MAX_PAGES_PER_ACCOUNT="2")
    fake.publish(club, 5)
    second = run(DATABASE_URL=pgbouncer_url)

    assert first.status == 0, first.stderr
    assert second.status == 0, second.stderr
    assert stored_posts(db, club) == [p.id for p in club.posts]
    assert run("status", DATABASE_URL=pgbouncer_url).status == 0


def _server_without_ssl() -> int:
    """A TCP server that answers a Postgres client's SSL request with 'N' (no SSL), then hangs up."""
    listener = socket.create_server(("127.0.0.1", 0))

    def serve() -> None:
        with listener:
            for _ in range(2):
                connection, _ = listener.accept()
                with connection:
                    connection.recv(8)
                    connection.sendall(b"N")

    threading.Thread(target=serve, daemon=True).start()
    return listener.getsockname()[1]


def test_sslmode_in_the_url_is_honoured(run):
    port = _server_without_ssl()

    with_ssl = run(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/db?sslmode=require")
    without = run(DATABASE_URL=f"postgresql://postgres@127.0.0.1:{port}/db?sslmode=disable")

    assert with_ssl.status == without.status == 2
    assert "server does not support SSL, but SSL was required" in with_ssl.stderr
    assert "SSL" not in without.stderr


@pytest.mark.parametrize(("port", "which"), [("5432", "direct database host"), ("6543", "dedicated pooler")])
def test_supabase_direct_host_or_dedicated_pooler_failure_explains_the_shared_pooler(run, port, which):
    result = run(DATABASE_URL=f"postgresql://postgres:s3cret-pw@db.abcdefghijkl.supabase.co:{port}/postgres")

    assert result.status == 2
    assert f"db.abcdefghijkl.supabase.co:{port}" in result.stderr
    assert f"Supabase's {which}" in result.stderr and "IPv6-only" in result.stderr
    assert "use the shared pooler's string instead" in result.stderr and ".pooler.supabase.com:6543" in result.stderr
    assert "s3cret-pw" not in result.stderr


def test_row_level_security_hides_tokens_from_other_roles(fake, link, db, run):
    link(fake.add_account("rls", posts=1))
    run()
    db.execute(
        "DO $$ BEGIN IF NOT EXISTS (SELECT FROM pg_roles WHERE rolname = 'ingest_anon_probe') THEN "
        "CREATE ROLE ingest_anon_probe NOLOGIN; END IF; END $$"
    )
    db.execute("GRANT SELECT ON instagram_accounts, instagram_posts TO ingest_anon_probe")

    with db.transaction():
        db.execute("SET LOCAL ROLE ingest_anon_probe")
        seen = db.execute("SELECT count(*) FROM instagram_accounts").fetchone()[0]
    owner_sees = db.execute("SELECT count(*) FROM instagram_accounts").fetchone()[0]

    assert (seen, owner_sees) == (0, 1)
    enabled = db.execute(
        "SELECT relname FROM pg_class WHERE relrowsecurity AND relname LIKE 'instagram_%' ORDER BY relname"
    ).fetchall()
    assert [r[0] for r in enabled] == [
        "instagram_accounts",
        "instagram_club_events",
        "instagram_events",
        "instagram_link_requests",
        "instagram_posts",
        "instagram_sync_runs",
    ]


# -- trying it with no credentials -----------------------------------------------------------


def test_fake_graph_runs_on_its_own_for_a_walkthrough(db, database_url, script_env, tmp_path):
    fake_proc = subprocess.Popen([sys.executable, "-m", "tests.fake_graph", "--accounts", "2", "--posts", "120"],
                                 cwd=SCRIPT.parent, stdout=subprocess.PIPE, text=True)  # fmt: skip
    try:
        exports, tokens, approved = {}, [], []
        for line in fake_proc.stdout:
            if line.startswith("export "):
                name, _, value = line[len("export ") :].strip().partition("=")
                exports[name] = value
            elif line.startswith("#   club"):
                tokens.append(line.split(": ", 1)[1].strip())
            elif line.startswith("#   approved by "):
                approved.append(line.split(": ", 1)[1].strip())
            elif line.startswith("# Ctrl-C"):
                break
        env = {**script_env, **exports}

        def cli(*args: str) -> subprocess.CompletedProcess:
            return subprocess.run([sys.executable, str(SCRIPT), *args], env=env, cwd=tmp_path, capture_output=True,
                                  text=True, timeout=60)  # fmt: skip

        assert cli("add-account", "--token", tokens[0]).returncode == 0
        linked = cli("add-account", "--redirect-url", approved[1], "--name", "club2")  # through the login flow
        assert linked.returncode == 0, linked.stderr
        synced = cli("run")
        status = cli("status")
    finally:
        fake_proc.terminate()
        fake_proc.wait(10)

    assert len(tokens) == len(approved) == 2
    assert json.loads(synced.stdout)["posts_inserted"] == 2 * 120
    assert "club1" in status.stdout and "club2" in status.stdout


@pytest.mark.parametrize(
    "command",
    ["run", "add-account", "link-url", "status", "schema", "parse-caption", "extract-events", "events", None],
)
def test_every_command_has_help(cli, command):
    result = cli(*([command, "--help"] if command else ["--help"]))

    assert result.status == 0
    assert "usage: ingest_instagram.py" in result.stdout


def test_the_script_runs_as_cron_runs_it():
    """The other --help tests go through main() in-process; this one starts the file itself."""
    result = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True, text=True, timeout=30)

    assert result.returncode == 0
    assert "usage: ingest_instagram.py" in result.stdout


def test_database_password_from_the_url_never_shows(run):
    result = run(DATABASE_URL="postgresql://ingest:Sup3r-Secret-pw@127.0.0.1:1/postgres")

    assert result.status == 2
    assert "cannot connect to the database at 127.0.0.1:1" in result.stderr
    assert "Sup3r-Secret-pw" not in result.stderr + result.stdout


# -- what a careful user meets -----------------------------------------------------------------------


def test_add_account_with_a_facebook_token_and_no_app_credentials_is_one_line(fake, db, run):
    club = fake.add_account("fbnocreds", login="facebook")

    result = run("add-account", "--token", club.token, "--ig-user-id", club.ig_user_id,
                 INSTAGRAM_APP_ID="", INSTAGRAM_APP_SECRET="")  # fmt: skip

    assert result.status == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "INSTAGRAM_APP_ID" in lines[0] and "INSTAGRAM_APP_SECRET" in lines[0]
    assert fake.requests == []
    assert db.execute("SELECT to_regclass('instagram_accounts')").fetchone() == (None,)


def test_run_with_an_empty_account_name_is_exit_2(fake, link, cli):
    link(fake.add_account("notall", posts=1))

    result = cli("run", "--account", " ")

    assert result.status == 2
    assert "an empty name names no account" in result.stderr
    assert fake.requests == []


def _limited_role(db, database_url: str) -> tuple[str, str]:
    """A login role that may use the database but not create tables in it (PostgreSQL 15's default)."""
    role = f"ingest_cron_{db.info.dbname}"[:60]
    db.execute(
        f"DO $$ BEGIN CREATE ROLE {role} LOGIN; EXCEPTION WHEN duplicate_object OR unique_violation THEN NULL; END $$"
    )
    db.execute(f"REVOKE CREATE ON SCHEMA public FROM {role}")
    return role, psycopg.conninfo.make_conninfo(database_url, user=role)


def test_role_that_may_not_create_tables_is_told_the_privilege_and_the_fix(db, run, database_url):
    role, url = _limited_role(db, database_url)

    result = run(DATABASE_URL=url)

    assert result.status == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert f"the database role '{role}' may not create or change this tool's tables" in lines[0]
    assert "python ingest_instagram.py schema" in lines[0]
    assert "Traceback" not in result.stderr


def test_schema_printed_for_an_owner_lets_a_limited_role_run(fake, link, db, run, database_url):
    role, url = _limited_role(db, database_url)
    printed = run("schema", DATABASE_URL="")
    assert printed.status == 0 and printed.stderr == ""
    assert "CREATE TABLE IF NOT EXISTS instagram_posts" in printed.stdout

    db.execute(printed.stdout)  # the owner applies it, and lets the cron role use the tables
    db.execute(f"GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role}")
    db.execute(f"ALTER ROLE {role} BYPASSRLS")
    club = fake.add_account("limited", posts=3)
    link(club)
    result = run(DATABASE_URL=url)

    assert result.status == 0, result.stderr
    assert len(stored_posts(db, club)) == 3


def test_status_warns_when_no_run_ever_finished(db, run):
    result = run("status", "--json")

    data = json.loads(result.stdout)
    assert data["last_finished_run_at"] is None
    assert data["warnings"] == ["no sync run has ever finished: is the schedule set up? (STALE_AFTER_HOURS=2)"]
    assert "no sync run has ever finished" in result.stderr


def test_status_warns_when_the_last_run_is_older_than_stale_after_hours(fake, link, db, run):
    link(fake.add_account("stale", posts=1))
    run()
    fresh = json.loads(run("status", "--json").stdout)
    db.execute("UPDATE instagram_sync_runs SET started_at = started_at - interval '5 hours',"
               " finished_at = finished_at - interval '5 hours'")  # fmt: skip

    stale = run("status")
    tolerant = json.loads(run("status", "--json", STALE_AFTER_HOURS="6").stdout)

    assert fresh["warnings"] == []
    assert "the last sync run finished 5 h ago" in stale.stderr
    assert "STALE_AFTER_HOURS=2 h: check that the schedule still runs" in stale.stderr
    assert tolerant["warnings"] == []


def test_a_claimed_row_locked_by_another_run_is_skipped_not_waited_for(fake, link, db, database_url, run):
    locked = fake.add_account("lockedrow", posts=1)
    free = fake.add_account("freerow", posts=1)
    link(locked, priority=1)
    link(free, priority=2)
    with psycopg.connect(database_url) as other:  # another run in the middle of its claim
        other.execute("SELECT id FROM instagram_accounts WHERE ig_user_id = %s FOR UPDATE", (locked.ig_user_id,))

        result = run(timeout=20)

        other.rollback()
    assert result.status == 0, result.stderr
    assert result.summary["accounts_processed"] == 1
    assert fake.media_requests(locked) == []
    assert len(stored_posts(db, free)) == 1


def test_relinking_clears_a_throttle_mark(fake, link, db, run):
    club = fake.add_account("throttledrelink", posts=2)
    link(club)
    db.execute("UPDATE instagram_accounts SET throttled_until = now() + interval '1 hour'")

    assert run("add-account", "--token", fake.short_lived_token(club)).status == 0

    assert account_row(db, club)["throttled_until"] is None
    assert run().summary["accounts_processed"] == 1


def test_dry_run_leaves_the_last_error_and_throttle_mark_as_they_were(fake, link, db, run):
    club = fake.add_account("drymarks", posts=2)
    link(club)
    db.execute(
        "UPDATE instagram_accounts SET last_error = 'earlier failure', throttled_until = now() - interval '1 minute'"
    )
    before = account_row(db, club)

    result = run("run", "--dry-run")

    assert result.summary["accounts_processed"] == 1
    after = account_row(db, club)
    assert (after["last_error"], after["throttled_until"]) == (before["last_error"], before["throttled_until"])


def test_dry_run_records_no_failure_on_the_account(fake, link, db, run):
    club = fake.add_account("dryfail", posts=2)
    link(club, name="Dry Fail")
    fake.fault(club, "error", status=400, code=10, message="Application does not have permission")

    result = run("run", "--dry-run")

    assert result.status == 1
    assert "Dry Fail: Application does not have permission" in result.stderr
    row = account_row(db, club)
    assert (row["last_error"], row["last_error_at"], row["status"]) == (None, None, "active")
