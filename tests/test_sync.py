"""The core sync: posts in, nothing lost, nothing twice, the watermark never ahead of the rows."""

from __future__ import annotations

import signal
import subprocess
import sys
from dataclasses import replace
from datetime import datetime, timedelta, timezone

from tests.conftest import SCRIPT, account_row, stored_posts, wait_for

SUMMARY_KEYS = {
    "success", "accounts_processed", "posts_inserted", "requests_made", "timestamp",
    "posts_updated", "posts_deleted", "accounts_failed", "accounts_skipped", "tokens_refreshed", "highest_usage_pct",
    "stopped_by_deadline",
}  # fmt: skip


def test_first_run_stores_every_post_and_prints_one_json_summary(fake, link, db, run):
    club = fake.add_account("dscubed", posts=120)
    link(club, name="DSCubed")

    result = run()

    assert result.status == 0, result.stderr
    summary = result.summary
    assert set(summary) == SUMMARY_KEYS
    assert summary["success"] is True
    assert summary["accounts_processed"] == 1
    assert summary["posts_inserted"] == 120
    assert summary["requests_made"] == 3  # 50 + 50 + 20
    assert datetime.strptime(summary["timestamp"], "%Y-%m-%dT%H:%M:%SZ")
    assert "Inserted 120 new posts for DSCubed" in result.stderr
    assert stored_posts(db, club) == [p.id for p in club.posts]


def test_run_subcommand_is_the_same_batch(fake, link, run):
    link(fake.add_account("robotics", posts=3))

    result = run("run")

    assert result.status == 0
    assert result.summary["posts_inserted"] == 3


def test_media_request_asks_meta_for_the_design_fields_and_page_size(fake, link, run):
    club = fake.add_account("robotics", posts=3)
    link(club)

    run()

    (request,) = fake.media_requests(club)
    assert request.host == "instagram"
    assert request.path == f"/v25.0/{club.ig_user_id}/media"
    assert request.params["fields"] == (
        "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,media_product_type,alt_text,is_shared_to_feed"
    )
    assert request.params["limit"] == "50"


def test_rows_keep_permalink_media_type_and_meta_timestamp(fake, link, db, run):
    club = fake.add_account("chess", posts=1)
    link(club)
    post = club.posts[0]

    run()

    row = db.execute(
        'SELECT media_id, ig_user_id, caption, media_type, media_url, permalink, "timestamp", created_at, updated_at '
        "FROM instagram_posts"
    ).fetchone()
    assert row[:4] == (post.id, club.ig_user_id, post.caption, post.media_type)
    assert row[4] == fake.media_url(post)
    assert row[5] == post.permalink
    assert row[6] == post.timestamp.replace(microsecond=0)
    assert row[7] is not None and row[8] is not None


def test_run_with_nothing_new_makes_one_request_and_stores_nothing_twice(fake, link, db, run):
    club = fake.add_account("film", posts=80)
    link(club)
    run()
    before = len(fake.requests)

    summary = run().summary

    assert summary["posts_inserted"] == 0
    assert summary["posts_updated"] == 0
    assert summary["requests_made"] == 1
    assert len(fake.requests) - before == 1
    assert db.execute("SELECT count(*), count(DISTINCT media_id) FROM instagram_posts").fetchone() == (80, 80)


def test_new_posts_are_inserted_and_edited_captions_updated(fake, link, db, run):
    club = fake.add_account("debate", posts=10)
    link(club, name="Debate Soc")
    run()
    fake.publish(club, 3)
    club.posts[5].caption = "EDIT: the meetup moved to Friday 6pm"

    result = run()

    assert result.summary["posts_inserted"] == 3
    assert result.summary["posts_updated"] == 1
    assert "Inserted 3 new posts for Debate Soc" in result.stderr
    caption = db.execute("SELECT caption FROM instagram_posts WHERE media_id = %s", (club.posts[5].id,)).fetchone()
    assert caption == ("EDIT: the meetup moved to Friday 6pm",)


def test_expired_cdn_links_are_replaced(fake, link, db, run):
    club = fake.add_account("photo", posts=4)
    link(club)
    run()
    fake.cdn_epoch += 1

    summary = run().summary

    assert summary["posts_updated"] == 4
    urls = {r[0] for r in db.execute("SELECT media_url FROM instagram_posts")}
    assert urls == {fake.media_url(p) for p in club.posts}


def test_watermark_is_the_newest_post_stored(fake, link, db, run):
    club = fake.add_account("hiking", posts=30)
    link(club)

    run()

    assert account_row(db, club)["last_synced_at"] == club.posts[0].timestamp.replace(microsecond=0)


def test_pinned_old_post_does_not_stop_paging(fake, link, db, run):
    club = fake.add_account("music", posts=60)
    link(club)
    run()
    fake.publish(club, 70)  # more new posts than one page holds
    club.pinned = [club.posts[-1].id, club.posts[-2].id]  # two old posts now sit atop the grid

    summary = run().summary

    assert summary["posts_inserted"] == 70
    assert len(stored_posts(db, club)) == 130
    assert account_row(db, club)["last_synced_at"] == club.posts[0].timestamp.replace(microsecond=0)


def test_pinned_posts_alone_on_the_top_page_do_not_end_a_walk(fake, link, db, run):
    club = fake.add_account("drama", posts=5)
    link(club)
    run()
    fake.publish(club, 120)
    club.pinned = [p.id for p in club.posts[-3:]]

    run(MAX_PAGES_PER_ACCOUNT="10")

    assert len(stored_posts(db, club)) == 125


def test_backfill_of_600_posts_completes_over_several_runs(fake, link, db, run):
    club = fake.add_account("bigclub", posts=600)
    link(club)

    first = run().summary
    assert first["posts_inserted"] == 250  # 5 pages of 50
    assert len(stored_posts(db, club)) == 250
    assert account_row(db, club)["last_synced_at"] == club.posts[0].timestamp.replace(microsecond=0)

    fake.publish(club, 4)  # new posts arrive between runs: they come first
    second = run().summary
    assert second["posts_inserted"] == 4 + 200
    assert second["requests_made"] == 5

    third = run().summary
    assert third["posts_inserted"] == 150
    assert third["requests_made"] == 1 + 3

    assert stored_posts(db, club) == [p.id for p in club.posts]
    assert run().summary["requests_made"] == 1  # history complete: back to one page a run
    assert account_row(db, club)["pending_walks"] == []


def test_long_outage_gap_is_filled_before_older_history(fake, link, db, run):
    club = fake.add_account("outage", posts=400)
    link(club)
    run()  # 250 stored, 150 old ones pending
    fake.publish(club, 300)  # more new posts than one run can take

    run()
    run()
    run()
    run()

    assert stored_posts(db, club) == [p.id for p in club.posts]


def test_max_pages_per_account_caps_each_run(fake, link, db, run):
    club = fake.add_account("capped", posts=200)
    link(club)

    summary = run(MAX_PAGES_PER_ACCOUNT="2").summary

    assert summary["requests_made"] == 2
    assert len(stored_posts(db, club)) == 100


def test_initial_backfill_days_stops_at_the_horizon(fake, link, db, run):
    club = fake.add_account("recent", posts=200, spacing=timedelta(days=1))
    link(club)

    summary = run(INITIAL_BACKFILL_DAYS="30").summary

    assert summary["posts_inserted"] == 30
    assert summary["requests_made"] == 1
    cutoff = datetime.now(timezone.utc) - timedelta(days=30)
    assert db.execute('SELECT min("timestamp") FROM instagram_posts').fetchone()[0] >= cutoff
    assert account_row(db, club)["pending_walks"] == []


def test_missing_caption_and_media_url_are_stored_as_null(fake, link, db, run):
    club = fake.add_account("quiet", posts=2)
    club.posts[0].caption = None
    club.posts[1].has_media_url = False  # Meta omits media_url for copyrighted media
    link(club)

    run()

    rows = {r[0]: r[1:] for r in db.execute("SELECT media_id, caption IS NULL, media_url IS NULL FROM instagram_posts")}
    assert rows[club.posts[0].id] == (True, False)
    assert rows[club.posts[1].id] == (False, True)


def test_caption_with_nul_character_is_stored_without_it(fake, link, db, run):
    club = fake.add_account("nul", posts=1)
    club.posts[0].caption = "Trivia night\x00 at 7pm"
    link(club)

    assert run().status == 0

    assert db.execute("SELECT caption FROM instagram_posts").fetchone() == ("Trivia night at 7pm",)


def test_the_same_post_twice_on_a_page_is_stored_once_as_its_last_copy(fake, link, db, run):
    club = fake.add_account("echo", posts=3)
    club.posts.append(replace(club.posts[1], caption="the later copy, as Meta listed it last"))
    link(club)

    result = run()

    assert result.status == 0
    assert result.summary["posts_inserted"] == 3
    stored = db.execute("SELECT caption FROM instagram_posts WHERE media_id = %s", (club.posts[1].id,)).fetchone()
    assert stored == ("the later copy, as Meta listed it last",)


def test_process_killed_between_page_writes_loses_nothing_on_rerun(fake, link, db, run, script_env, tmp_path):
    club = fake.add_account("crashy", posts=230)
    link(club)
    fake.fault(club, "hold", skip=2)  # the third /media request hangs
    proc = subprocess.Popen([sys.executable, str(SCRIPT)], env=script_env, cwd=tmp_path,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)  # fmt: skip
    try:
        assert fake.held.wait(20), "the third page was never asked for"
        # it is asked for while the second is stored: the kill comes once two pages are committed
        wait_for(lambda: len(stored_posts(db, club)) == 100, "the first two pages stored")
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        fake.released.set()
        proc.kill()
    assert len(stored_posts(db, club)) == 100
    row = account_row(db, club)
    assert row["last_synced_at"] == club.posts[0].timestamp.replace(microsecond=0)
    assert len(row["pending_walks"]) == 1

    rerun = run()

    assert rerun.status == 0, rerun.stderr
    assert stored_posts(db, club) == [p.id for p in club.posts]
    assert db.execute("SELECT count(*) FROM instagram_posts").fetchone() == (230,)
