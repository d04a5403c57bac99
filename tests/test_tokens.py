"""refresh_token: renew before expiry, on the endpoint each kind of token needs."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timedelta, timezone

from tests.conftest import account_row, stored_posts

DAY = timedelta(days=1)


def _close(a: datetime, b: datetime) -> bool:
    return abs(a - b) < timedelta(minutes=5)


def test_token_with_less_than_a_tenth_of_its_life_left_is_refreshed_before_fetching(fake, link, db, run):
    club = fake.add_account("dscubed", posts=2)
    link(club, name="DSCubed", expires_in=5 * DAY)  # issue time unknown: taken as a 60-day token
    old_token = club.token

    result = run()

    assert result.status == 0, result.stderr
    assert result.summary["tokens_refreshed"] == 1
    assert result.summary["requests_made"] == 2
    refresh, media = fake.requests
    assert refresh.path == "/refresh_access_token"
    assert refresh.params == {"grant_type": "ig_refresh_token", "access_token": old_token}
    row = account_row(db, club)
    assert row["access_token"] == club.token != old_token
    assert _close(row["token_expires_at"], datetime.now(timezone.utc) + 60 * DAY)
    assert _close(row["token_issued_at"], datetime.now(timezone.utc))
    assert media.params["access_token"] == club.token
    assert "Refreshed token for DSCubed" in result.stderr


def test_token_with_more_than_a_tenth_left_is_not_refreshed(fake, link, run):
    club = fake.add_account("chess", posts=1)
    link(club, expires_in=7 * DAY)

    summary = run().summary

    assert summary["tokens_refreshed"] == 0
    assert [r.path for r in fake.requests] == [f"/v25.0/{club.ig_user_id}/media"]


def test_known_issue_time_sets_the_lifetime(fake, link, db, run):
    short_lived = fake.add_account("short", posts=1, token_age=10 * DAY)
    nearly_done = fake.add_account("nearly", posts=1, token_age=10 * DAY)
    link(short_lived, expires_in=1.5 * DAY)  # 1.5 of 11.5 days left: 13%, no refresh
    link(nearly_done, expires_in=0.9 * DAY)  # 0.9 of 10.9 days left: 8%, refresh
    db.execute("UPDATE instagram_accounts SET token_issued_at = now() - interval '10 days'")
    due_token = nearly_done.token

    summary = run().summary

    assert summary["tokens_refreshed"] == 1
    refreshes = [r for r in fake.requests if r.path == "/refresh_access_token"]
    assert [r.params["access_token"] for r in refreshes] == [due_token]


def test_instagram_token_younger_than_a_day_is_not_refreshed(fake, link, db, run):
    club = fake.add_account("fresh", posts=1, token_age=timedelta(hours=2))
    link(club, expires_in=timedelta(minutes=5))  # 5 of 125 minutes left: due, yet too young
    db.execute("UPDATE instagram_accounts SET token_issued_at = now() - interval '2 hours'")

    result = run()

    assert result.status == 0
    assert result.summary["tokens_refreshed"] == 0
    assert "younger than 24 hours" in result.stderr
    assert len(stored_posts(db, club)) == 1


def test_facebook_login_token_refreshes_and_fetches_on_graph_facebook(fake, link, db, run):
    club = fake.add_account("fbclub", posts=3, login="facebook")
    link(club, expires_in=2 * DAY)
    old_token = club.token

    result = run()

    assert result.status == 0, result.stderr
    exchange, media = fake.requests
    assert (exchange.host, exchange.path) == ("facebook", "/v25.0/oauth/access_token")
    assert exchange.params == {
        "grant_type": "fb_exchange_token",
        "client_id": fake.app_id,
        "client_secret": fake.app_secret,
        "fb_exchange_token": old_token,
    }
    assert (media.host, media.path) == ("facebook", f"/v25.0/{club.ig_user_id}/media")
    expected_proof = hmac.new(fake.app_secret.encode(), club.token.encode(), hashlib.sha256).hexdigest()
    assert media.params["appsecret_proof"] == expected_proof
    assert account_row(db, club)["access_token"] == club.token
    assert len(stored_posts(db, club)) == 3


def test_instagram_requests_never_carry_the_app_secret(fake, link, run):
    club = fake.add_account("igclub", posts=1)
    link(club, expires_in=DAY)

    run()

    for request in fake.requests:
        assert fake.app_secret not in str(request.params)
        assert "appsecret_proof" not in request.params


def test_exchange_answer_without_expires_in_is_taken_as_sixty_days(fake, link, db, run):
    fake.omit_expires_in = True
    club = fake.add_account("noexpiry", posts=1, login="facebook")
    link(club, expires_in=DAY)

    assert run().status == 0

    assert _close(account_row(db, club)["token_expires_at"], datetime.now(timezone.utc) + 60 * DAY)


def test_failed_refresh_is_logged_recorded_and_the_account_skipped(fake, link, db, run):
    broken = fake.add_account("broken", posts=2)
    healthy = fake.add_account("healthy", posts=2)
    link(broken, name="Broken Club", expires_in=DAY)
    link(healthy, name="Healthy Club")
    fake.fault(broken, "error", endpoint="refresh", status=500, code=2, message="Service temporarily unavailable")
    fake.fault(broken, "error", endpoint="refresh", status=400, code=100, message="Unsupported request - method type")

    result = run(HTTP_RETRIES="1")

    assert result.status == 1
    assert result.summary["accounts_failed"] == 1
    assert result.summary["accounts_processed"] == 1
    assert "Broken Club: Unsupported request - method type" in result.stderr
    assert "Unsupported request - method type" in account_row(db, broken)["last_error"]
    assert fake.media_requests(broken) == []
    assert len(stored_posts(db, healthy)) == 2


def test_facebook_token_without_app_credentials_fails_with_a_clear_cause(fake, link, db, run):
    club = fake.add_account("fbnocreds", posts=1, login="facebook")
    link(club, expires_in=DAY)

    result = run(INSTAGRAM_APP_ID="", INSTAGRAM_APP_SECRET="")

    assert result.status == 1
    assert "needs INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET" in result.stderr
    assert fake.requests == []
