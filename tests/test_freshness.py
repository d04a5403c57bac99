"""What is stored stays true to Instagram: deleted and archived posts are marked, never removed; media
links and thumbnails are refreshed, and a reader can tell how fresh they are."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest

from tests.conftest import SCRIPT, crash_while_waiting


def _deleted(db, *posts) -> list[bool]:
    """Whether each post is marked deleted (its row always stays)."""
    marks = dict(db.execute("SELECT media_id, deleted_at IS NOT NULL FROM instagram_posts").fetchall())
    return [marks[p.id] for p in posts]


def _marked(db) -> set[str]:
    return {r[0] for r in db.execute("SELECT media_id FROM instagram_posts WHERE deleted_at IS NOT NULL")}


def _full_walk(db, run, **env: str):
    """The design's remedy for a stuck account: last_synced_at set to NULL walks the whole history."""
    db.execute("UPDATE instagram_accounts SET last_synced_at = NULL")
    return run(**env)


# -- deleted and archived posts ----------------------------------------------------------------


def test_post_deleted_from_the_first_page_is_marked_after_two_runs(fake, link, db, run):
    club = fake.add_account("firstpage", posts=80)
    link(club)
    run()
    gone = club.posts[5]
    fake.delete(club, gone)

    once = run()
    assert once.summary["posts_deleted"] == 0  # one absence alone marks nothing
    assert _deleted(db, gone) == [False]
    twice = run()

    assert twice.summary["posts_deleted"] == 1
    assert twice.summary["requests_made"] == 1  # no request beyond the run's own top page
    assert _marked(db) == {gone.id}
    assert db.execute("SELECT count(*) FROM instagram_posts").fetchone() == (80,)  # no row is ever deleted
    assert "marked 1 deleted" in twice.stderr


def test_two_absences_in_one_run_are_one(fake, link, db, run):
    club = fake.add_account("samerun", posts=20)
    link(club)
    run()
    gone = club.posts[4]
    fake.delete(club, gone)
    db.execute("UPDATE instagram_accounts SET pending_walks = %s", (json.dumps([{"after": None, "until": None}]),))

    run()  # the top walk and a walk from the top both go over it: still one run

    assert _deleted(db, gone) == [False]


def test_post_deleted_deep_in_the_history_is_found_when_history_is_walked_again(fake, link, db, run):
    club = fake.add_account("deep", posts=120)
    link(club)
    run()  # all 120, in 3 pages
    gone = club.posts[100]
    fake.delete(club, gone)

    run()
    assert _deleted(db, gone) == [False]  # the top page does not reach it
    _full_walk(db, run)
    walked = _full_walk(db, run)

    assert walked.summary["posts_deleted"] == 1
    assert _marked(db) == {gone.id}


def test_a_backfill_in_progress_marks_what_it_goes_over(fake, link, db, run):
    club = fake.add_account("backfill", posts=300)
    link(club)
    run(MAX_PAGES_PER_ACCOUNT="2")  # 100 stored, the walk resumes at post 100
    _full_walk(db, run, MAX_PAGES_PER_ACCOUNT="2")
    gone = club.posts[60]  # on the second page
    fake.delete(club, gone)

    _full_walk(db, run, MAX_PAGES_PER_ACCOUNT="2")
    _full_walk(db, run, MAX_PAGES_PER_ACCOUNT="2")

    assert _marked(db) == {gone.id}


def test_a_pinned_post_is_never_taken_for_deleted(fake, link, db, run):
    club = fake.add_account("pinner", posts=120)
    club.pinned = [club.posts[100].id]  # an old post pinned atop the grid, gone from its own place
    link(club)
    run()

    for _ in range(2):
        run()  # the top page only: the pinned post atop it says nothing of the posts down to its time
    assert _marked(db) == set()
    for _ in range(2):
        _full_walk(db, run)

    assert _marked(db) == set()


def test_a_pinned_post_deleted_is_marked_once_its_place_is_gone_over_twice(fake, link, db, run):
    club = fake.add_account("unpinned", posts=120)
    pinned = club.posts[100]
    club.pinned = [pinned.id]
    link(club)
    run()
    fake.delete(club, pinned)

    run()
    assert _deleted(db, pinned) == [False]  # the top page is no evidence for where an old post was
    _full_walk(db, run)
    _full_walk(db, run)

    assert _marked(db) == {pinned.id}


def test_an_archived_post_that_comes_back_is_unmarked(fake, link, db, run):
    club = fake.add_account("archiver", posts=30)
    link(club)
    run()
    archived = club.posts[2]
    fake.delete(club, archived)
    run()
    run()
    assert _deleted(db, archived) == [True]

    fake.restore(club, archived)  # back from the archive, in its old place
    restored = run()

    assert _deleted(db, archived) == [False]
    assert restored.summary["posts_updated"] == 1
    assert db.execute(
        "SELECT missing_since_run FROM instagram_posts WHERE media_id = %s", (archived.id,)
    ).fetchone() == (None,)  # its earlier absences no longer count


def test_a_sighting_between_two_absences_resets_them(fake, link, db, run):
    club = fake.add_account("flicker", posts=30)
    link(club)
    run()
    post = club.posts[3]
    fake.delete(club, post)
    run()  # missing once
    fake.restore(club, post)
    run()  # seen again
    fake.delete(club, post)

    run()  # missing once more: not twice in a row

    assert _deleted(db, post) == [False]


def test_a_run_killed_before_its_page_is_stored_counts_no_absence(fake, link, db, run, script_env, tmp_path):
    club = fake.add_account("killed", posts=30)
    link(club)
    run()
    gone = club.posts[1]
    fake.delete(club, gone)
    run()  # the first absence
    fake.fault(club, "hold")
    proc = subprocess.Popen([sys.executable, str(SCRIPT)], env={**script_env, "HTTP_TIMEOUT": "120"}, cwd=tmp_path,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
    try:
        assert fake.held.wait(20)
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        fake.released.set()
        proc.kill()
    assert _deleted(db, gone) == [False]

    run()

    assert _deleted(db, gone) == [True]


def test_a_new_club_with_few_posts_has_its_whole_history_gone_over(fake, link, db, run):
    club = fake.add_account("tiny", posts=8)
    link(club)
    run()
    oldest = club.posts[-1]
    fake.delete(club, oldest)

    run()
    run()

    assert _marked(db) == {oldest.id}


def test_a_club_that_deleted_everything_has_every_post_marked(fake, link, db, run):
    club = fake.add_account("emptied", posts=5)
    link(club)
    run()
    for post in list(club.posts):
        fake.delete(club, post)

    run()
    run()

    assert len(_marked(db)) == 5


def test_overlapping_runs_mark_each_deleted_post_and_no_other(fake, link, db, script_env, tmp_path):
    clubs = [fake.add_account(f"overlap{n:02d}", posts=12) for n in range(8)]
    for club in clubs:
        link(club)
    env = {**script_env, "HTTP_TIMEOUT": "120"}

    def round_of(workers: int) -> None:
        procs = [subprocess.Popen([sys.executable, str(SCRIPT)], env=env, cwd=tmp_path, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for _ in range(workers)]  # fmt: skip
        assert [p.wait(60) for p in procs] == [0] * workers

    round_of(2)
    gone = [club.posts[n % 10] for n, club in enumerate(clubs)]
    for club, post in zip(clubs, gone):
        fake.delete(club, post)
    fake.latency = 0.01
    round_of(3)
    round_of(2)

    assert _marked(db) == {p.id for p in gone}


def test_dry_run_reports_what_it_would_mark_and_marks_nothing(fake, link, db, run):
    club = fake.add_account("drydelete", posts=20)
    link(club)
    run()
    gone = club.posts[2]
    fake.delete(club, gone)
    run()
    before = db.execute("SELECT deleted_at, missing_since_run FROM instagram_posts WHERE media_id = %s", (gone.id,))
    before = before.fetchone()

    result = run("run", "--dry-run")

    assert result.summary["posts_deleted"] == 1
    assert "would mark 1 deleted" in result.stderr
    after = db.execute("SELECT deleted_at, missing_since_run FROM instagram_posts WHERE media_id = %s", (gone.id,))
    assert after.fetchone() == before
    assert before[0] is None


def test_deletions_show_in_the_run_record_status_and_step_summary(fake, link, db, run, tmp_path):
    club = fake.add_account("shown", posts=10)
    link(club, name="Shown Club")
    run()
    fake.delete(club, club.posts[1])
    run()
    summary_file = tmp_path / "summary.md"

    run(GITHUB_STEP_SUMMARY=str(summary_file))
    status = json.loads(run("status", "--json").stdout)

    assert db.execute("SELECT posts_deleted FROM instagram_sync_runs ORDER BY id DESC LIMIT 1").fetchone() == (1,)
    (account,) = status["accounts"]
    assert (account["posts"], account["posts_deleted"]) == (10, 1)
    assert status["runs"][0]["posts_deleted"] == 1
    assert "| Shown Club | 0 | 0 | 1 | 1 | ok |" in summary_file.read_text()


# -- what a reader needs to show a post -----------------------------------------------------------


def test_videos_keep_their_thumbnail_and_links_are_refreshed_with_their_fetch_time(fake, link, db, run):
    club = fake.add_account("video", posts=3)
    for post in club.posts:
        post.media_type = "VIDEO"
    link(club)
    run()
    first = dict(db.execute("SELECT media_id, media_fetched_at FROM instagram_posts").fetchall())
    fake.cdn_epoch += 1  # Meta signs new links

    run()

    rows = db.execute("SELECT media_id, thumbnail_url, media_url, media_fetched_at FROM instagram_posts").fetchall()
    for media_id, thumbnail, media_url, fetched in rows:
        post = next(p for p in club.posts if p.id == media_id)
        assert thumbnail == fake.media_url(post, "thumb") != media_url
        assert fetched > first[media_id]


def test_media_fetched_at_moves_even_when_nothing_changed(fake, link, db, run):
    club = fake.add_account("unchanged", posts=2)
    link(club)
    run()
    first = db.execute("SELECT max(media_fetched_at), max(updated_at) FROM instagram_posts").fetchone()

    again = run()

    assert again.summary["posts_updated"] == 0
    fetched, updated = db.execute("SELECT min(media_fetched_at), max(updated_at) FROM instagram_posts").fetchone()
    assert fetched > first[0]
    assert updated == first[1]
    assert abs(fetched - datetime.now(timezone.utc)) < timedelta(minutes=5)


@pytest.mark.parametrize("login", ["facebook", "instagram"])
def test_posts_keep_their_product_type_on_both_hosts(fake, link, db, run, login):
    club = fake.add_account("reels", posts=3, login=login)
    link(club)

    run()

    (request,) = fake.media_requests(club)
    assert "media_product_type" in request.params["fields"].split(",")
    types = {r[0]: r[1] for r in db.execute("SELECT media_type, media_product_type FROM instagram_posts")}
    assert types == {"IMAGE": "FEED", "VIDEO": "REELS", "CAROUSEL_ALBUM": "FEED"}


def test_a_crash_while_the_page_is_written_marks_nothing(fake, link, db, run, script_env, tmp_path):
    """Absences are written in the statement that stores the page that shows them: a crash that
    loses the page loses them too."""
    club = fake.add_account("crashmark", posts=10)
    link(club)
    run()
    gone = club.posts[3]
    fake.delete(club, gone)
    run()  # one absence
    # A post of the page is locked: the page's upsert waits there, while an absence written apart
    # (touching other rows) would go through and commit.
    lock = "SELECT 1 FROM instagram_posts WHERE media_id = %s FOR UPDATE"
    crash_while_waiting(db, lock, (club.posts[0].id,), script_env, tmp_path, "run", "--account", club.ig_user_id)

    assert _deleted(db, gone) == [False]
