"""Meta's real errors, rate limits, network faults and bad answers: each ends in a clear log line,
the other accounts synced, nothing lost or stored twice, and no token or secret anywhere in sight."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

import psycopg
import pytest

import ingest_instagram
from tests.conftest import SCRIPT, account_row, stored_posts, wait_for, wait_until_blocked


def _secrets(fake) -> set[str]:
    tokens = {token for account in fake.accounts.values() for token in account.tokens}
    return tokens | {fake.app_secret}


def _stored_errors(db) -> str:
    rows = db.execute(
        "SELECT coalesce(string_agg(last_error, ' '), '') FROM instagram_accounts"
        " UNION ALL SELECT coalesce(string_agg(errors::text, ' '), '') FROM instagram_sync_runs"
    ).fetchall()
    return " ".join(r[0] for r in rows)


@pytest.fixture(autouse=True)
def no_secret_leaks(fake, db, run):
    """After every fault below: grep all stdout, stderr and stored errors for every token and the secret."""
    yield
    outputs = [r.stdout + r.stderr for r in run.results]
    stored = _stored_errors(db) if db.execute("SELECT to_regclass('instagram_sync_runs')").fetchone()[0] else ""
    for secret in _secrets(fake):
        for text in [*outputs, stored]:
            assert secret not in text, f"a secret leaked into: {text[:300]}"


def _minutes_from_now(moment: datetime) -> float:
    return (moment - datetime.now(timezone.utc)).total_seconds() / 60


# -- rate limits ------------------------------------------------------------


@pytest.mark.parametrize(("status", "code"), [(400, 4), (403, 4), (400, 341)])
def test_app_throttling_stops_the_batch_politely(fake, link, db, run, status, code):
    clubs = [fake.add_account(f"club{n}", posts=2) for n in range(3)]
    for club in clubs:
        link(club)
    fake.fault(clubs[1], "error", status=status, code=code, message="(#4) Application request limit reached")

    result = run()

    assert result.status == 0
    assert result.summary["accounts_processed"] == 1
    assert result.summary["accounts_skipped"] == 2
    assert "Stopping the batch: Meta throttles the whole app" in result.stderr
    assert "Application request limit reached" in result.stderr
    assert fake.media_requests(clubs[2]) == []
    assert account_row(db, clubs[1])["last_checked_at"] is None  # goes first next run


@pytest.mark.parametrize("login", ["instagram", "facebook"])
def test_app_usage_header_at_the_limit_stops_the_batch(fake, link, run, login):
    clubs = [fake.add_account(f"club{n}", posts=2, login=login) for n in range(3)]
    for club in clubs:
        link(club)
    fake.app_usage = {"call_count": 96, "total_cputime": 20, "total_time": 30}  # near the limit
    fake.instagram_usage = {"call_volume": 96, "cpu_time": 20}  # graph.instagram.com's own spelling

    result = run()

    assert result.summary["accounts_processed"] == 1
    assert result.summary["highest_usage_pct"] == 96
    assert "96% of the app's rate limit used" in result.stderr
    assert len(fake.media_requests()) == 1


def test_app_usage_past_the_threshold_slows_to_one_page_per_account(fake, link, db, run):
    """graph.instagram.com spells it {"call_volume", "cpu_time"} (recorded 2025): read as a percentage too."""
    clubs = [fake.add_account(f"club{n}", posts=200) for n in range(2)]
    for club in clubs:
        link(club)
    fake.instagram_usage = {"call_volume": 12, "cpu_time": 85}

    summary = run().summary

    assert summary["accounts_processed"] == 2
    assert summary["requests_made"] == 2
    assert summary["highest_usage_pct"] == 85
    assert [len(stored_posts(db, c)) for c in clubs] == [50, 50]


@pytest.mark.parametrize("code", [17, 32, 613, 80002])
def test_account_throttling_skips_that_account_until_meta_allows(fake, link, db, run, code):
    throttled = fake.add_account("throttled", posts=2)
    other = fake.add_account("other", posts=2)
    link(throttled, name="Throttled Club")
    link(other)
    fake.fault(throttled, "error", status=400, code=code, message="User request limit reached")

    result = run()

    assert result.status == 0
    assert result.summary["accounts_skipped"] == 1
    assert "Throttled Club: rate-limited by Meta (User request limit reached" in result.stderr
    assert 55 < _minutes_from_now(account_row(db, throttled)["throttled_until"]) <= 60
    assert len(stored_posts(db, other)) == 2
    before = len(fake.media_requests(throttled))

    again = run()

    assert len(fake.media_requests(throttled)) == before
    assert again.summary["accounts_skipped"] == 1


def test_business_usage_regain_time_sets_the_wait(fake, link, db, run):
    club = fake.add_account("buc", posts=2)
    link(club)
    fake.fault(
        club, "error", status=400, code=80002, message="There have been too many calls to this Instagram account",
        headers={"X-Business-Use-Case-Usage": f'{{"{club.ig_user_id}": [{{"type": "instagram", "call_count": 100,'
                 ' "total_cputime": 5, "total_time": 5, "estimated_time_to_regain_access": 15}]}'},
    )  # fmt: skip

    result = run()

    assert result.summary["highest_usage_pct"] == 100
    assert 14 < _minutes_from_now(account_row(db, club)["throttled_until"]) <= 15


def test_429_retry_after_is_honoured(fake, link, db, run):
    club = fake.add_account("busy", posts=2)
    link(club)
    fake.fault(club, "html", status=429, headers={"Retry-After": "120"})

    result = run()

    assert result.status == 0
    assert "rate-limited by Meta (too many requests" in result.stderr
    assert 1.5 < _minutes_from_now(account_row(db, club)["throttled_until"]) <= 2


def test_account_near_its_usage_limit_pauses_its_walk(fake, link, db, run):
    club = fake.add_account("nearly", posts=300, login="facebook")  # graph.instagram.com sends no BUC header
    link(club)
    club.usage.update(call_count=90)

    result = run()

    assert result.summary["requests_made"] == 1
    assert "90% of this account's rate limit used" in result.stderr
    assert len(account_row(db, club)["pending_walks"]) == 1


# -- tokens and permissions --------------------------------------------------


def test_expired_token_marks_the_account_for_reauthorisation(fake, link, db, run):
    club = fake.add_account("expired", posts=2)
    link(club, name="Expired Club")
    fake.fault(club, "error", status=400, code=190, subcode=463,
               message="Error validating access token: Session has expired on Friday, 21-Nov-26")  # fmt: skip

    result = run()

    assert result.status == 1
    assert "Expired Club: Error validating access token: Session has expired" in result.stderr
    assert "must log in again and re-link the account" in result.stderr
    assert [r.path for r in fake.requests] == [f"/v25.0/{club.ig_user_id}/media"]  # no refresh can help
    row = account_row(db, club)
    assert row["status"] == "needs_reauth"
    assert "Session has expired" in row["last_error"]


def test_account_needing_reauthorisation_is_skipped_without_a_request(fake, link, db, run):
    club = fake.add_account("dead", posts=2)
    link(club, name="Dead Club")
    fake.fault(club, "error", status=400, code=190, subcode=460, message="The user has changed the password")
    run()
    fake.requests.clear()

    result = run()

    assert result.status == 0
    assert fake.requests == []
    assert result.summary["accounts_skipped"] == 1
    assert "Dead Club: skipped, its token is dead" in result.stderr


def test_a_new_token_put_in_by_hand_clears_the_mark(fake, link, db, run):
    club = fake.add_account("relinked", posts=2)
    link(club)
    fake.fault(club, "error", status=400, code=190, subcode=467, message="Invalid access token")
    run()
    new_token = fake.issue(club, "IGAA")["access_token"]
    db.execute("UPDATE instagram_accounts SET access_token = %s", (new_token,))

    result = run()

    assert result.status == 0
    assert len(stored_posts(db, club)) == 2
    assert account_row(db, club)["status"] == "active"


def test_rejected_token_gets_one_refresh_then_the_fetch_goes_on(fake, link, db, run):
    club = fake.add_account("stale", posts=2)
    link(club)
    fake.fault(club, "error", status=400, code=190, message="Invalid OAuth access token")

    result = run()

    assert result.status == 0, result.stderr
    assert [r.path.rsplit("/", 1)[-1] for r in fake.requests] == ["media", "refresh_access_token", "media"]
    assert result.summary["tokens_refreshed"] == 1
    assert len(stored_posts(db, club)) == 2


def test_rejected_token_whose_refresh_fails_needs_reauthorisation(fake, link, db, run):
    club = fake.add_account("gone", posts=2)
    link(club)
    fake.fault(club, "error", status=400, code=190, message="Invalid OAuth access token")
    fake.fault(club, "error", endpoint="refresh", status=400, code=190, message="Invalid OAuth access token")

    result = run()

    assert result.status == 1
    assert account_row(db, club)["status"] == "needs_reauth"
    assert len(fake.requests) == 2


@pytest.mark.parametrize(
    ("code", "message"),
    [(10, "Application does not have permission"), (200, "Permissions error"), (100, "Unsupported get request")],
)
def test_permission_and_parameter_errors_fail_the_account_once(fake, link, db, run, code, message):
    club = fake.add_account("noperm", posts=2)
    link(club, name="No Perm")
    fake.fault(club, "error", status=400, code=code, message=message, times=5)

    result = run()

    assert result.status == 1
    assert f"No Perm: {message}" in result.stderr
    assert len(fake.requests) == 1
    assert message in account_row(db, club)["last_error"]
    assert account_row(db, club)["status"] == "active"


# -- faults ------------------------------------------------------------------


def test_slow_answer_times_out_and_is_retried(fake, link, db, run):
    club = fake.add_account("slow", posts=2)
    link(club)
    fake.fault(club, "slow")

    result = run(HTTP_TIMEOUT="0.3", HTTP_RETRIES="2")

    assert result.status == 0, result.stderr
    assert result.summary["requests_made"] == 2
    assert len(stored_posts(db, club)) == 2


def test_answer_that_never_comes_fails_the_account_with_a_timeout(fake, link, db, run):
    club = fake.add_account("hung", posts=2)
    other = fake.add_account("fine", posts=2)
    link(club, name="Hung Club")
    link(other)
    fake.fault(club, "slow", times=2)

    result = run(HTTP_TIMEOUT="0.3", HTTP_RETRIES="1")

    assert result.status == 1
    assert "Hung Club: request failed" in result.stderr
    assert "timed out" in result.stderr
    assert len(stored_posts(db, other)) == 2


@pytest.mark.parametrize(
    ("kind", "options"),
    [
        ("drop", {}),
        ("html", {"status": 502}),
        ("error", {"status": 500, "code": 2, "message": "Service temporarily unavailable", "is_transient": True}),
        ("error", {"status": 503, "code": 1, "message": "An unknown error occurred"}),
    ],
)
def test_transient_failure_is_retried_and_counted(fake, link, db, run, kind, options):
    club = fake.add_account("transient", posts=2)
    link(club)
    fake.fault(club, kind, times=2, **options)

    result = run()

    assert result.status == 0, result.stderr
    assert result.summary["requests_made"] == 3
    assert len(stored_posts(db, club)) == 2


def test_retries_stop_at_the_request_budget(fake, link, run):
    club = fake.add_account("budget", posts=2)
    link(club)
    fake.fault(club, "html", times=5)

    result = run(MAX_REQUESTS_PER_RUN="2", HTTP_RETRIES="4")

    assert result.summary["requests_made"] == 2
    assert len(fake.requests) == 2


def test_persistent_502_html_page_fails_the_account_cleanly(fake, link, run):
    club = fake.add_account("proxy", posts=2)
    link(club, name="Proxy Club")
    fake.fault(club, "html", times=10)

    result = run(HTTP_RETRIES="2")

    assert result.status == 1
    assert "Proxy Club: answer is not JSON (text/html)" in result.stderr
    assert "a temporary fault; the next run tries again" in result.stderr


@pytest.mark.parametrize(
    ("fault", "options", "log"),
    [
        ("not_json", {}, "answer is not JSON"),
        ("body", {"body": {"paging": {}}}, "has no 'data' list"),
        ("body", {"body": {"data": {"id": "1"}}}, "has no 'data' list"),
        ("body", {"body": ["not", "an", "object"]}, "not a JSON object"),
    ],
)
def test_malformed_answer_fails_the_account_cleanly(fake, link, db, run, fault, options, log):
    club = fake.add_account("garbled", posts=2)
    other = fake.add_account("fine", posts=2)
    link(club, name="Garbled")
    link(other)
    fake.fault(club, fault, **options)

    result = run()

    assert result.status == 1
    assert "Traceback" not in result.stderr
    assert "Garbled: " in result.stderr and log in result.stderr
    assert stored_posts(db, club) == []
    assert account_row(db, club)["last_synced_at"] is None
    assert len(stored_posts(db, other)) == 2


def test_paging_next_to_another_host_is_refused(fake, link, db, run):
    club = fake.add_account("foreign", posts=120)
    link(club, name="Foreign")
    fake.fault(club, "foreign_next", origin=fake.facebook_url)  # a host that is not the Instagram one

    result = run()

    assert result.status == 1
    assert "Foreign: refused paging.next pointing to another host" in result.stderr
    assert [r.host for r in fake.requests] == ["instagram"]


def test_database_lost_mid_run_is_exit_2_and_the_next_run_continues(fake, link, db, run, script_env, tmp_path):
    club = fake.add_account("dbdrop", posts=120)
    link(club)
    fake.fault(club, "hold", skip=1)
    proc = subprocess.Popen([sys.executable, str(SCRIPT)], env=script_env, cwd=tmp_path, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert fake.held.wait(20)  # the second page is asked for while the first is stored
        wait_for(lambda: len(stored_posts(db, club)) == 50, "the first page stored")
        db.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE application_name = 'ingest_instagram' AND datname = current_database()"
        )
    finally:
        fake.released.set()
    stdout, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 2, stderr
    assert "database connection lost" in stderr
    assert "Traceback" not in stderr
    assert len(stored_posts(db, club)) == 50

    rerun = run()

    assert rerun.status == 0, rerun.stderr
    assert stored_posts(db, club) == [p.id for p in club.posts]
    for secret in _secrets(fake):
        assert secret not in stdout + stderr


def test_the_next_page_is_asked_for_while_a_page_is_stored_and_stored_after_it(fake, link, db, script_env, tmp_path):
    """Meta's wait and the page's reading and writing overlap: while the first page's statement waits
    (on a lock the test holds), the second page has been asked for, and nothing of it is stored."""
    club = fake.add_account("overlap", posts=120)
    link(club)
    with psycopg.connect(db.info.dsn, password=db.info.password or None) as blocker:
        blocker.execute("LOCK TABLE instagram_posts IN SHARE MODE")
        proc = subprocess.Popen([sys.executable, str(SCRIPT)], env=script_env, cwd=tmp_path, text=True,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
        try:
            wait_for(lambda: len(fake.media_requests(club)) == 2, "the second page asked for")
            wait_until_blocked(db)  # the first page's statement
            assert len(fake.media_requests(club)) == 2  # not a third: one page ahead, no more
            assert stored_posts(db, club) == []
        finally:
            blocker.rollback()
            _, stderr = proc.communicate(timeout=30)

    assert proc.returncode == 0, stderr
    assert stored_posts(db, club) == [p.id for p in club.posts]
    assert len(fake.media_requests(club)) == 3
    assert "3 page(s)" in stderr


# -- data round trips ---------------------------------------------------------

AWKWARD = [
    "O'Brien's \"quoted\" -- ; DROP TABLE instagram_posts; --",
    "Emoji night 🎉🐍🏳️‍🌈 at 7pm",
    "أمسية ثقافية في الحرم الجامعي",  # right-to-left
    "x" * 65536,
]


def test_awkward_captions_and_names_round_trip_exactly(fake, link, db, run):
    club = fake.add_account("awkward", posts=len(AWKWARD))
    for post, caption in zip(club.posts, AWKWARD):
        post.caption = caption
    link(club, name='Club O\'Brien 🎉 "Ω" نادي')

    result = run()

    assert result.status == 0
    assert 'Inserted 4 new posts for Club O\'Brien 🎉 "Ω" نادي' in result.stderr
    stored = {r[0]: r[1] for r in db.execute("SELECT media_id, caption FROM instagram_posts")}
    assert [stored[p.id] for p in club.posts] == AWKWARD


def test_connection_failure_message_names_the_url_without_its_token(fake, link, run):
    club = fake.add_account("unreachable", posts=2)
    link(club, name="Unreachable")
    fake.fault(club, "drop", times=10)

    result = run(HTTP_RETRIES="1")

    assert result.status == 1
    assert "Unreachable: request failed" in result.stderr
    assert "access_token=[REDACTED]" in result.stderr


def test_every_fault_in_one_batch_leaks_no_secret(fake, link, db, run):
    """Point 9's grep, over one batch where every account meets a different fault."""
    faults = [
        ("drop", {"times": 10}),
        ("slow", {"times": 10}),
        ("html", {"times": 10}),
        ("not_json", {}),
        ("body", {"body": {"paging": {}}}),
        ("foreign_next", {"origin": "http://127.0.0.1:9"}),
        ("error", {"code": 190, "subcode": 463, "message": "Session has expired"}),
        ("error", {"code": 190, "message": "Invalid OAuth access token"}),
        ("error", {"code": 10, "message": "Application does not have permission for this action"}),
        ("error", {"code": 17, "message": "User request limit reached"}),
        ("error", {"status": 429, "code": 80002, "message": "Too many calls", "headers": {"Retry-After": "60"}}),
    ]
    for n, (kind, options) in enumerate(faults):
        club = fake.add_account(f"fault{n}", posts=60, login="facebook" if n % 2 else "instagram")
        link(club, expires_in=timedelta(days=1 if n % 3 == 0 else 30))
        fake.fault(club, kind, **options)
    last = fake.add_account("app_throttled", posts=2)
    link(last, priority=3)
    fake.fault(last, "error", status=403, code=4, message="Application request limit reached")

    result = run(HTTP_TIMEOUT="0.3", HTTP_RETRIES="1")

    assert result.status == 1
    assert result.summary["accounts_failed"] >= 8, result.stderr
    text = result.stdout + result.stderr + _stored_errors(db)
    for secret in _secrets(fake):
        assert secret not in text
    assert "[REDACTED]" in text


@pytest.mark.parametrize(
    ("text", "hidden"),
    [
        ("GET /media?fields=id&access_token=IGQVJabc123&limit=50", "IGQVJabc123"),
        ('{"access_token": "EAAGm0PX4ZCpsBA", "token_type": "bearer"}', "EAAGm0PX4ZCpsBA"),
        ("next=https%3A%2F%2Fgraph%3Faccess_token%3DIGQVJxyz789%26after%3D1", "IGQVJxyz789"),
        ("client_secret=s3cr3t-value&grant_type=fb_exchange_token", "s3cr3t-value"),
        ("fb_exchange_token=EAAold000&client_id=1", "EAAold000"),
        ("postgresql://ingest:hunter2-pw@db.example.com:6543/postgres", "hunter2-pw"),
    ],
)
def test_redaction_hides_token_shaped_values(text, hidden):
    from ingest_instagram import redact

    assert hidden not in redact(text)
    assert "[REDACTED]" in redact(text)


def test_account_at_its_usage_limit_waits_the_time_meta_gives(fake, link, db, run):
    club = fake.add_account("atlimit", posts=120, login="facebook")
    link(club, name="At Limit")
    club.usage.update(call_count=100, estimated_time_to_regain_access=10)

    first = run()
    second = run()

    assert first.status == 0
    assert len(stored_posts(db, club)) == 50  # the page that reported it is kept
    assert "At Limit: Meta reports 100% of this account's rate limit used; skipped until" in first.stderr
    assert 9 < _minutes_from_now(account_row(db, club)["throttled_until"]) <= 10
    assert len(fake.media_requests(club)) == 1
    assert second.summary["accounts_skipped"] == 1


def test_code_102_session_error_marks_the_account_for_reauthorisation(fake, link, db, run):
    club = fake.add_account("code102", posts=2)
    link(club)
    fake.fault(
        club, "error", status=400, code=102, message="Session key invalid or no longer valid", type="OAuthException"
    )

    result = run()

    assert result.status == 1
    assert "must log in again and re-link the account" in result.stderr
    assert account_row(db, club)["status"] == "needs_reauth"


def test_a_token_meta_echoes_in_its_error_is_hidden(fake, link, db, run):
    club = fake.add_account("echoed", posts=2)
    link(club, name="Echoed")
    fake.fault(club, "error", status=400, code=190, subcode=460, message=f"Malformed access token {club.token}")

    result = run()

    assert "Echoed: Malformed access token [REDACTED]" in result.stderr
    assert club.token not in account_row(db, club)["last_error"]


@pytest.mark.parametrize(
    ("login", "key"), [("facebook", "total_time"), ("facebook", "total_cputime"), ("instagram", "cpu_time")]
)
def test_app_usage_counts_time_as_well_as_calls(fake, link, run, login, key):
    for n in range(3):
        link(fake.add_account(f"timed{n}", posts=1, login=login))
    fake.app_usage = {"call_count": 1, "total_cputime": 1, "total_time": 1, key: 97}
    fake.instagram_usage = {"call_volume": 1, "cpu_time": 1, "some_new_key": 99, key: 97}  # unknown keys ignored

    result = run()

    assert result.summary["highest_usage_pct"] == 97
    assert result.summary["accounts_processed"] == 1
    assert len(fake.media_requests()) == 1


def test_a_redirect_is_never_followed_with_the_token(fake, link, db, run):
    club = fake.add_account("redirected", posts=2)
    link(club, name="Redirected")
    fake.fault(club, "redirect", location=f"{fake.facebook_url}/v25.0/{club.ig_user_id}/media")

    result = run(HTTP_RETRIES="0")

    assert result.status == 1
    assert "Redirected: answer is not JSON" in result.stderr
    assert [r.host for r in fake.requests] == ["instagram"]  # nothing went where the answer pointed


def test_the_log_formatter_hides_a_secret_that_reaches_a_log_line(capfd):
    ingest_instagram._setup_logging()
    ingest_instagram.remember_secret("IGAAformatter-secret-42")

    ingest_instagram.log.warning("a careless line with IGAAformatter-secret-42 in it")

    err = capfd.readouterr().err
    assert "a careless line with [REDACTED] in it" in err
    assert "IGAAformatter-secret-42" not in err
