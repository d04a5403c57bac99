"""run_batch: request budget, fair order, one broken account never stopping the others."""

from __future__ import annotations

from datetime import timedelta

from tests.conftest import account_row, stored_posts


def _media_order(fake) -> list[str]:
    names = {a.ig_user_id: a.username for a in fake.accounts.values()}
    return [names[r.path.split("/")[2]] for r in fake.media_requests()]


def test_budget_stops_the_run_and_skipped_accounts_go_first_next_run(fake, link, run):
    clubs = [fake.add_account(f"club{n}", posts=1) for n in range(5)]
    for club in clubs:
        link(club)

    first = run(MAX_REQUESTS_PER_RUN="3")

    assert first.status == 0
    assert first.summary["requests_made"] == 3
    assert first.summary["accounts_processed"] == 3
    assert first.summary["accounts_skipped"] == 2
    assert "Stopping the batch: the request budget of 3 is used up" in first.stderr
    fetched_first = _media_order(fake)
    fake.requests.clear()

    second = run(MAX_REQUESTS_PER_RUN="2")

    assert second.summary["accounts_skipped"] == 3
    assert set(_media_order(fake)) == {c.username for c in clubs} - set(fetched_first)


def test_budget_is_checked_before_every_page(fake, link, db, run):
    club = fake.add_account("long", posts=300)
    link(club)

    summary = run(MAX_REQUESTS_PER_RUN="2").summary

    assert summary["requests_made"] == 2
    assert summary["accounts_processed"] == 1
    assert len(stored_posts(db, club)) == 100
    assert len(account_row(db, club)["pending_walks"]) == 1


def test_a_refresh_counts_against_the_budget(fake, link, db, run):
    club = fake.add_account("due", posts=1)
    link(club, expires_in=timedelta(days=1))

    summary = run(MAX_REQUESTS_PER_RUN="1").summary

    assert summary["requests_made"] == 1
    assert summary["tokens_refreshed"] == 1
    assert summary["accounts_skipped"] == 1
    assert fake.media_requests() == []
    assert account_row(db, club)["access_token"] == club.token


def test_accounts_go_by_priority_then_least_recently_checked(fake, link, db, run):
    low = fake.add_account("low", posts=1)
    high = fake.add_account("high", posts=1)
    normal_a = fake.add_account("normal_a", posts=1)
    normal_b = fake.add_account("normal_b", posts=1)
    link(low, priority=3)
    link(high, priority=1)
    link(normal_a, priority=2)
    link(normal_b, priority=2)
    db.execute(
        "UPDATE instagram_accounts SET last_checked_at = now() - interval '1 hour' WHERE ig_user_id = %s",
        (normal_a.ig_user_id,),
    )

    run()

    assert _media_order(fake) == ["high", "normal_b", "normal_a", "low"]


def test_ordering_uses_last_check_not_newest_post(fake, link, db, run):
    busy = fake.add_account("busy", posts=5)
    quiet = fake.add_account("quiet", posts=5, newest=None, spacing=timedelta(days=30))
    link(busy)
    link(quiet)
    run(MAX_REQUESTS_PER_RUN="1")  # only the first is checked
    checked = _media_order(fake)
    fake.requests.clear()

    run(MAX_REQUESTS_PER_RUN="1")

    assert len(checked) == 1
    assert _media_order(fake) == [name for name in ("busy", "quiet") if name not in checked]


def test_an_account_without_a_priority_goes_as_priority_2(fake, link, db, run):
    unset = fake.add_account("unset", posts=1)
    low = fake.add_account("low", posts=1)
    high = fake.add_account("high", posts=1)
    link(low, priority=3)
    link(unset)
    link(high, priority=1)
    db.execute("UPDATE instagram_accounts SET priority = NULL WHERE ig_user_id = %s", (unset.ig_user_id,))

    run()

    assert _media_order(fake) == ["high", "unset", "low"]


def test_one_broken_account_does_not_stop_the_others(fake, link, db, run):
    clubs = [fake.add_account(f"club{n}", posts=2) for n in range(3)]
    for club in clubs:
        link(club, name=f"Club {club.username}")
    fake.fault(clubs[0], "error", status=400, code=100, subcode=33, message="Object with ID does not exist")

    result = run()

    assert result.status == 1
    assert result.summary["success"] is False
    assert result.summary["accounts_failed"] == 1
    assert result.summary["accounts_processed"] == 2
    assert "Club club0: Object with ID does not exist" in result.stderr
    assert [len(stored_posts(db, c)) for c in clubs] == [0, 2, 2]
    assert "Object with ID does not exist" in account_row(db, clubs[0])["last_error"]


def test_error_is_cleared_by_the_next_clean_sync(fake, link, db, run):
    club = fake.add_account("flaky", posts=2)
    link(club)
    fake.fault(club, "error", status=400, code=100, message="temporary mixup")
    assert run().status == 1

    assert run().status == 0

    row = account_row(db, club)
    assert row["last_error"] is None
    assert row["last_error_at"] is not None


def test_each_run_is_recorded(fake, link, db, run):
    link(fake.add_account("logged", posts=3))

    run()

    row = db.execute(
        "SELECT outcome, accounts_processed, posts_inserted, requests_made, finished_at IS NOT NULL"
        " FROM instagram_sync_runs"
    ).fetchone()
    assert row == ("ok", 1, 3, 1, True)


def test_no_accounts_is_a_clean_empty_run(db, run):
    result = run()

    assert result.status == 0
    assert result.summary["accounts_processed"] == 0
    assert result.summary["requests_made"] == 0


def test_each_failed_account_is_named_in_the_run_record(fake, link, db, run):
    bad = fake.add_account("badrecord", posts=1)
    link(bad, name="Bad Record")
    link(fake.add_account("goodrecord", posts=1))
    fake.fault(bad, "error", status=400, code=10, message="Application does not have permission")

    run()

    (errors,) = db.execute("SELECT errors FROM instagram_sync_runs").fetchone()
    assert [e["account"] for e in errors] == ["Bad Record"]
    assert "Application does not have permission" in errors[0]["error"]
