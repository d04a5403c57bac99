"""Real-world drift that must never lose a post: a watermark in the future, a cursor that died with
its post, a re-link during a run, text Postgres cannot store, a foreign paging link, a crash between
statements."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime, timedelta, timezone

from tests.conftest import SCRIPT, account_row, crash_while_waiting, stored_posts


def _all_stored_within(run, db, club, runs: int, **env: str) -> int:
    """Run until every post the club has on Meta is stored; return how many runs that took."""
    want = {p.id for p in club.posts}
    for n in range(1, runs + 1):
        result = run(**env)
        assert result.status == 0, result.stderr
        if want <= set(stored_posts(db, club)):
            return n
    missing = want - set(stored_posts(db, club))
    raise AssertionError(f"{len(missing)} of {len(want)} posts still missing after {runs} runs")


# -- a watermark in the future ---------------------------------------------------------------


def test_watermark_ahead_of_the_stored_posts_is_repaired_and_the_history_completes(fake, link, db, run):
    club = fake.add_account("skewed", posts=180)
    link(club, name="Skewed Club")
    db.execute("UPDATE instagram_accounts SET last_synced_at = now() + interval '11 hours'")

    first = run()

    assert "Skewed Club: last_synced_at" in first.stderr
    assert "is later than the newest post stored or than now; repaired" in first.stderr
    assert _all_stored_within(run, db, club, 3) <= 3
    row = account_row(db, club)
    assert row["last_synced_at"] == club.posts[0].timestamp.replace(microsecond=0)
    assert row["pending_walks"] == []


def test_local_time_written_as_utc_is_repaired_and_later_bursts_are_not_lost(fake, link, db, run):
    club = fake.add_account("melbourne", posts=60)
    link(club)
    run(MAX_PAGES_PER_ACCOUNT="1")  # page 1 stored, the rest of the history pending
    # A design table whose TIMESTAMP values were Melbourne time, now read as UTC: all 11 hours ahead.
    db.execute('UPDATE instagram_posts SET "timestamp" = "timestamp" + interval \'11 hours\'')
    db.execute("UPDATE instagram_accounts SET last_synced_at = last_synced_at + interval '11 hours'")
    fake.publish(club, 70)  # a burst larger than a page

    assert _all_stored_within(run, db, club, 2) <= 2
    run()

    assert account_row(db, club)["pending_walks"] == []
    times = dict(db.execute('SELECT media_id, "timestamp" FROM instagram_posts').fetchall())
    assert all(times[p.id] == p.timestamp.replace(microsecond=0) for p in club.posts)  # corrected too


def test_a_right_watermark_is_left_alone(fake, link, db, run):
    club = fake.add_account("steady", posts=10)
    link(club)
    run()

    again = run()

    assert "repaired" not in again.stderr
    assert again.summary["requests_made"] == 1


# -- a resumed walk whose cursor died ----------------------------------------------------------


def test_walk_whose_cursor_died_with_a_deleted_post_starts_again_and_completes(fake, link, db, run):
    club = fake.add_account("deleter", posts=300)
    link(club, name="Deleter")
    run(MAX_PAGES_PER_ACCOUNT="2")  # 100 stored; the walk keeps a cursor pointing at post 100
    walk = account_row(db, club)["pending_walks"][0]
    assert walk["reached"] == club.posts[99].timestamp.isoformat(timespec="seconds")
    fake.delete(club, club.posts[99])  # the club deletes the post the cursor points at

    result = run(MAX_PAGES_PER_ACCOUNT="4")

    assert result.status == 0, result.stderr
    assert "Deleter: Meta refused the saved cursor of an unfinished walk" in result.stderr
    assert "starts again from the top of the grid" in result.stderr
    assert "check the account's ig_user_id" not in result.stderr
    assert _all_stored_within(run, db, club, 3, MAX_PAGES_PER_ACCOUNT="4") <= 3
    assert account_row(db, club)["last_error"] is None


def test_a_dead_cursor_does_not_stall_an_account_with_a_low_page_cap(fake, link, db, run):
    """The rejected request brings no page, so it does not use up the page cap the restart needs."""
    club = fake.add_account("cursor", posts=120)
    link(club)
    run(MAX_PAGES_PER_ACCOUNT="1")
    fake.delete(club, club.posts[49])

    run(MAX_PAGES_PER_ACCOUNT="1", MAX_REQUESTS_PER_RUN="1")  # only the top page
    run(MAX_PAGES_PER_ACCOUNT="2")

    assert _all_stored_within(run, db, club, 4, MAX_PAGES_PER_ACCOUNT="2") <= 4


# -- a re-link during a run -----------------------------------------------------------------------


def test_relink_during_a_run_keeps_the_new_token_usable(fake, link, db, run, script_env, tmp_path):
    club = fake.add_account("relinking", posts=2)
    link(club, name="Relinking")
    old_token = club.token
    fake.fault(club, "hold")
    fake.fault(club, "error", status=400, code=190, subcode=460, message="The user has changed the password")
    batch = subprocess.Popen([sys.executable, str(SCRIPT)], env={**script_env, "HTTP_TIMEOUT": "120"}, cwd=tmp_path,
                             text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert fake.held.wait(20)
        relinked = run("add-account", "--token", fake.short_lived_token(club))  # the admin re-links meanwhile
    finally:
        fake.released.set()
    _, stderr = batch.communicate(timeout=60)

    assert relinked.status == 0, relinked.stderr
    assert "its token was replaced (add-account) while this run used the old one" in stderr
    row = account_row(db, club)
    assert row["access_token"] not in (old_token, None)
    assert row["status"] == "active" and row["dead_token_sha256"] is None
    after = run()
    assert after.summary["accounts_processed"] == 1
    assert len(stored_posts(db, club)) == 2


def test_a_token_rejected_and_not_replaced_is_still_marked_dead(fake, link, db, run):
    club = fake.add_account("deadmark", posts=2)
    link(club)
    fake.fault(club, "error", status=400, code=190, subcode=460, message="The user has changed the password")

    run()

    assert account_row(db, club)["status"] == "needs_reauth"


# -- text Postgres cannot store -------------------------------------------------------------------


def test_caption_with_half_an_emoji_is_stored_with_the_rest_of_it(fake, link, db, run):
    club = fake.add_account("surrogate", posts=2)
    club.posts[0].caption = "Pizza night \ud83c tonight \U0001f355 at 6pm"  # a lone high surrogate
    club.posts[1].extra = {"permalink": "https://www.instagram.com/p/\udfff/"}
    link(club)

    result = run()

    assert result.status == 0, result.stderr
    assert result.summary["posts_inserted"] == 2
    captions = dict(db.execute("SELECT media_id, caption FROM instagram_posts").fetchall())
    assert captions[club.posts[0].id] == "Pizza night \ufffd tonight \U0001f355 at 6pm"
    permalink = db.execute("SELECT permalink FROM instagram_posts WHERE media_id = %s", (club.posts[1].id,))
    assert permalink.fetchone() == ("https://www.instagram.com/p/\ufffd/",)


def test_an_error_message_with_half_an_emoji_is_stored(fake, link, db, run):
    club = fake.add_account("surrogerr", posts=2)
    link(club)
    fake.fault(club, "error", status=400, code=10, message="Permission \ud83d denied")

    result = run()

    assert result.status == 1
    assert account_row(db, club)["last_error"].startswith("Permission \ufffd denied")


# -- a foreign paging.next -------------------------------------------------------------------------


def test_a_page_whose_next_link_is_refused_keeps_its_posts_and_the_rest_comes_next_run(fake, link, db, run):
    club = fake.add_account("foreignpage", posts=120)
    link(club, name="Foreign Page")
    fake.fault(club, "foreign_next", origin="https://graph.example.net")

    result = run()

    assert result.status == 1
    assert result.summary["accounts_failed"] == 1
    assert "Foreign Page: refused paging.next pointing to another host (graph.example.net)" in result.stderr
    assert stored_posts(db, club) == [p.id for p in club.posts[:50]]
    assert "graph.example.net" in account_row(db, club)["last_error"]
    assert _all_stored_within(run, db, club, 2) <= 2


# -- a crash between statements ------------------------------------------------------------------------


def test_crash_while_a_page_is_written_moves_no_watermark(fake, link, db, script_env, tmp_path):
    """The page's posts and the watermark they justify go in one statement: a crash at the moment the
    posts are written (the process and its database session killed) leaves neither."""
    club = fake.add_account("crashpoint", posts=30)
    link(club)
    # The posts table is held: the page's one statement waits there, and is killed waiting.
    crash_while_waiting(db, "LOCK TABLE instagram_posts IN SHARE MODE", (), script_env, tmp_path)

    row = account_row(db, club)
    assert stored_posts(db, club) == []
    assert row["last_synced_at"] is None
    assert row["pending_walks"] == []


def test_dry_run_reports_a_watermark_it_would_repair_and_changes_nothing(fake, link, db, run):
    club = fake.add_account("dryskew", posts=10)
    link(club, name="Dry Skew")
    run()
    future = datetime.now(timezone.utc) + timedelta(hours=11)
    db.execute("UPDATE instagram_accounts SET last_synced_at = %s", (future,))

    result = run("run", "--dry-run")

    assert "Dry Skew: last_synced_at" in result.stderr
    assert abs(account_row(db, club)["last_synced_at"] - future) < timedelta(seconds=1)
