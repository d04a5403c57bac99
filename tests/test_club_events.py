"""One event, once: the mentions of a club become one club event per real event. First the planner
alone (captions in, club events out, no database), then the tables, the view, the commands and the
calendar against a real Postgres and the fake Graph API."""

from __future__ import annotations

import json
import subprocess
import sys
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import icalendar
import pytest

from ingest_instagram import ClubEvent, Mention, plan_club_events, read_caption
from tests.conftest import SCRIPT, crash_while_waiting

MELBOURNE = ZoneInfo("Australia/Melbourne")


def _mentions(*posts: tuple[str, str, str]) -> list[Mention]:
    """(media_id, posted_at, caption) → the mentions the captions give, as the sync stores them."""
    found = []
    for media_id, posted_at, caption in posts:
        moment = datetime.fromisoformat(posted_at)
        found += [Mention((media_id, n), moment, e) for n, e in enumerate(read_caption(caption, moment, MELBOURNE))]
    return found


def _local(event: ClubEvent) -> str:
    start = event.starts_at.astimezone(MELBOURNE)
    return f"{start:%a %d %b}" + ("" if event.all_day else f" {start:%H:%M}")


ANNOUNCE = ("p1", "2026-03-09T02:00:00+00:00", "Trivia night Thursday 12 March, 7pm at the Clyde 🧠")
REMIND = ("p2", "2026-03-11T02:00:00+00:00", "Trivia night tomorrow! Bring your smartest friends")
TONIGHT = ("p3", "2026-03-12T02:00:00+00:00", "TONIGHT: trivia 🎉")


def test_an_announcement_its_reminder_and_the_day_of_post_are_one_event():
    (event,) = plan_club_events(_mentions(ANNOUNCE, REMIND, TONIGHT), [], MELBOURNE)

    assert _local(event) == "Thu 12 Mar 19:00"
    assert event.venue == "the Clyde"
    assert event.mentions == [("p1", 0), ("p2", 0), ("p3", 0)]
    assert event.first_posted_at == datetime.fromisoformat(ANNOUNCE[1])


def test_a_venue_fixed_in_a_later_post_wins():
    fixed = ("p2", "2026-03-10T02:00:00+00:00", "Trivia Thursday 12 March 7pm, now at the Grad Bar")

    (event,) = plan_club_events(_mentions(ANNOUNCE, fixed), [], MELBOURNE)

    assert (event.venue, _local(event)) == ("the Grad Bar", "Thu 12 Mar 19:00")


def test_a_move_with_a_new_time_moves_the_event():
    moved = ("p2", "2026-03-10T02:00:00+00:00", "Trivia night moved to Friday 13 March, 8pm!")

    (event,) = plan_club_events(_mentions(ANNOUNCE, moved), [], MELBOURNE)

    assert _local(event) == "Fri 13 Mar 20:00"
    assert event.mentions == [("p1", 0), ("p2", 0)]


def test_a_move_without_a_time_keeps_the_old_time():
    moved = ("p2", "2026-03-10T02:00:00+00:00", "Heads up: trivia is postponed to Tuesday 17 March")

    (event,) = plan_club_events(_mentions(ANNOUNCE, moved), [], MELBOURNE)

    assert _local(event) == "Tue 17 Mar 19:00"


def test_a_cancellation_cancels_and_a_new_announcement_brings_it_back():
    cancelled = ("p2", "2026-03-10T02:00:00+00:00", "Sorry all, Thursday's trivia is cancelled 😔")
    back = ("p3", "2026-03-11T02:00:00+00:00", "Good news: trivia Thursday 12 March 7pm is on after all!")

    (gone,) = plan_club_events(_mentions(ANNOUNCE, cancelled), [], MELBOURNE)
    (again,) = plan_club_events(_mentions(ANNOUNCE, cancelled, back), [], MELBOURNE)

    assert (gone.status, _local(gone)) == ("cancelled", "Thu 12 Mar 19:00")
    assert again.status == "scheduled"


def test_two_events_of_one_club_on_one_day_stay_two():
    lunch = ("p2", "2026-03-09T03:00:00+00:00", "Chess club Thursday 12 March 1pm, Baillieu Library")
    evening = ("p3", "2026-03-09T04:00:00+00:00", "Trivia Thursday 12 March 7pm, the Clyde")

    events = plan_club_events(_mentions(lunch, evening), [], MELBOURNE)

    assert sorted(_local(e) for e in events) == ["Thu 12 Mar 13:00", "Thu 12 Mar 19:00"]


def test_a_planned_event_keeps_the_id_of_the_stored_one_and_counts_its_changes():
    (first,) = plan_club_events(_mentions(ANNOUNCE), [], MELBOURNE)
    stored = ClubEvent(41, first.origin, first.starts_at, first.ends_at, first.all_day, first.venue, first.title,
                       first.first_posted_at, sequence=2, mentions=[("p1", 0)])  # fmt: skip
    moved = ("p2", "2026-03-10T02:00:00+00:00", "Trivia night moved to Friday 13 March, 8pm!")

    (same,) = plan_club_events(_mentions(ANNOUNCE, REMIND), [stored], MELBOURNE)
    (changed,) = plan_club_events(_mentions(ANNOUNCE, moved), [stored], MELBOURNE)

    assert (same.id, same.sequence) == (41, 2)
    assert (changed.id, changed.sequence, _local(changed)) == (41, 3, "Fri 13 Mar 20:00")


def test_a_stored_event_is_found_again_by_its_day_when_its_mentions_were_derived_anew():
    (first,) = plan_club_events(_mentions(ANNOUNCE), [], MELBOURNE)
    stored = ClubEvent(7, "other/0", first.starts_at, None, False, None, "Trivia night", first.first_posted_at)

    (again,) = plan_club_events(_mentions(ANNOUNCE), [stored], MELBOURNE)

    assert again.id == 7


def test_a_cancellation_of_nothing_announced_gives_no_event():
    assert plan_club_events(_mentions(("p1", "2026-03-09T02:00:00+00:00", "Yoga is cancelled today")), [],
                            MELBOURNE) == []  # fmt: skip


def test_a_cancelled_event_counts_the_post_that_cancels_it_among_its_mentions():
    cancelled = ("p2", "2026-03-10T02:00:00+00:00", "Thursday's trivia is called off, sorry")

    (event,) = plan_club_events(_mentions(ANNOUNCE, cancelled), [], MELBOURNE)

    assert (event.status, event.mentions) == ("cancelled", [("p1", 0), ("p2", 0)])


# -- the tables, the view and the commands -------------------------------------------------------------


def _ahead(days: int) -> str:
    """A day ``days`` from now as a caption writes it: "Thursday 12 March"."""
    day = datetime.now(MELBOURNE) + timedelta(days=days)
    return f"{day:%A} {day.day} {day:%B}"


def _view(db) -> list[tuple]:
    return db.execute(
        "SELECT id, title, venue, mentions, permalink, sequence, to_char(starts_at AT TIME ZONE 'Australia/Melbourne',"
        " 'YYYY-MM-DD HH24:MI') FROM upcoming_events ORDER BY starts_at, id"
    ).fetchall()


def _club_rows(db) -> list[tuple]:
    return db.execute("SELECT id, status, sequence FROM instagram_club_events ORDER BY id").fetchall()


def _announced(fake, link, *captions: str, name: str = "club"):
    """A club whose posts, oldest first, carry these captions (the rest say nothing of events)."""
    club = fake.add_account(name, posts=len(captions) + 2)
    for post, caption in zip(reversed(club.posts[: len(captions)]), captions):
        post.caption = caption
    link(club)
    return club


def test_an_announcement_a_reminder_and_the_day_of_post_are_one_event_with_three_mentions(fake, link, db, run):
    day = _ahead(5)
    club = _announced(fake, link, f"Trivia night {day}, 7pm at the Clyde 🧠", f"Reminder: trivia night is {day}!",
                      f"Trivia night {day} - see you at 7!")  # fmt: skip

    run()

    ((event_id, title, venue, mentions, permalink, sequence, _),) = _view(db)
    assert (title, venue, mentions, sequence) == ("Trivia night", "the Clyde", 3, 0)
    assert permalink == club.posts[0].permalink  # the newest post that mentions it
    assert db.execute("SELECT count(*) FROM instagram_events WHERE club_event_id = %s", (event_id,)).fetchone() == (3,)


def test_a_venue_fixed_in_a_later_post_replaces_the_old_one(fake, link, db, run):
    day = _ahead(6)
    club = _announced(fake, link, f"Board games {day} 6pm at the Arts lounge")
    run()
    fake.publish(club)[0].caption = f"Board games {day} 6pm: we moved rooms, now at Union House Rm 2"

    run()

    ((_, _, venue, mentions, _, sequence, _),) = _view(db)
    assert (venue, mentions, sequence) == ("Union House Rm 2", 2, 1)


@pytest.mark.parametrize(("moved", "when"), [("Friday {day} at 8pm", "20:00"), ("Friday {day}", "19:00")])
def test_a_move_in_a_later_post_moves_the_event_and_keeps_its_id(fake, link, db, run, moved, when):
    thursday = datetime.now(MELBOURNE) + timedelta(days=(3 - datetime.now(MELBOURNE).weekday()) % 7 + 7)
    friday = thursday + timedelta(days=1)
    club = _announced(fake, link, f"Quiz night {thursday:%A} {thursday.day} {thursday:%B}, 7pm")
    run()
    (before,) = _club_rows(db)
    caption = "Quiz night moved to " + moved.format(day=f"{friday.day} {friday:%B}") + "!"
    fake.publish(club)[0].caption = caption

    run()

    ((event_id, _, _, mentions, _, sequence, starts),) = _view(db)
    assert (event_id, mentions, sequence) == (before[0], 2, 1)
    assert starts == f"{friday:%Y-%m-%d} {when}"  # nothing left on the old day


def test_a_cancellation_hides_the_event_and_deleting_that_post_brings_it_back(fake, link, db, run):
    day = _ahead(4)
    club = _announced(fake, link, f"Karaoke {day} 8pm at the Grad Bar 🎤")
    run()
    cancel = fake.publish(club)[0]
    cancel.caption = "Sorry everyone, karaoke is cancelled this week 😔"

    run()
    cancelled = json.loads(run("events", "--all", "--json").stdout)
    assert _view(db) == []
    assert [(e["status"], e["mentions"]) for e in cancelled] == [("cancelled", 2)]
    fake.delete(club, cancel)
    run()
    run()  # a second absence: the cancelling post is deleted

    ((event_id, *_),) = _view(db)
    assert event_id == cancelled[0]["id"]
    assert _club_rows(db) == [(event_id, "scheduled", 2)]


def test_two_events_of_a_club_on_one_day_stay_two_and_two_clubs_never_share_one(fake, link, db, run):
    day = _ahead(7)
    _announced(fake, link, f"Chess {day} 1pm, Baillieu Library", f"Trivia {day} 7pm at the Clyde", name="twoevents")
    _announced(fake, link, f"Trivia {day} 7pm at the Clyde", name="otherclub")

    run()

    rows = db.execute("SELECT account_name, title FROM upcoming_events ORDER BY starts_at, account_name").fetchall()
    assert rows == [("twoevents", "Chess"), ("otherclub", "Trivia"), ("twoevents", "Trivia")]


def test_event_ids_survive_extract_events_all_and_a_new_extractor_version(fake, link, db, run):
    day = _ahead(8)
    _announced(fake, link, f"Movie night {day} 7pm, Union House Theatre", f"Movie night is {day}, bring snacks")
    run()
    before = _view(db)

    again = run("extract-events", "--all")
    db.execute("UPDATE instagram_posts SET events_version = 1")  # as if the extractor were newer
    run()

    assert again.status == 0, again.stderr
    assert _view(db) == before
    assert db.execute("SELECT count(*) FROM instagram_club_events").fetchone() == (1,)


def test_a_trial_reel_is_stored_but_gives_no_event(fake, link, db, run):
    club = _announced(fake, link, f"Open mic {_ahead(3)} 7pm, the Grad Bar")
    club.posts[0].media_type = "VIDEO"
    club.posts[0].extra["is_shared_to_feed"] = False
    shared = [p for p in club.posts if p.caption and "Open mic" in p.caption][0]
    shared.media_type, shared.extra["is_shared_to_feed"] = "VIDEO", False

    run()

    assert db.execute("SELECT is_shared_to_feed FROM instagram_posts WHERE media_id = %s", (shared.id,)).fetchone() == (
        False,
    )
    assert _view(db) == []
    shared.extra["is_shared_to_feed"] = True  # the club shares it to the feed after all
    run()
    assert len(_view(db)) == 1


def test_two_overlapping_runs_on_the_same_posts_make_each_event_once(fake, link, db, script_env, tmp_path):
    for n in range(6):
        _announced(fake, link, f"Social {_ahead(3 + n)} 6pm at the Clyde", name=f"overlap{n}")
    procs = [subprocess.Popen([sys.executable, str(SCRIPT)], env=script_env, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], outputs
    assert db.execute("SELECT count(*), count(DISTINCT ig_user_id) FROM instagram_club_events").fetchone() == (6, 6)
    assert db.execute("SELECT count(*) FROM instagram_events WHERE club_event_id IS NULL").fetchone() == (0,)


def test_a_crash_while_a_page_is_written_leaves_no_event_without_its_mentions(fake, link, db, run, script_env,
                                                                               tmp_path):  # fmt: skip
    day = _ahead(5)
    club = _announced(fake, link, f"Pho night {day} 6:30pm, Union House")
    run()
    fake.publish(club)[0].caption = f"Pho night {day}: now at 7pm!"
    crash_while_waiting(db, "SELECT 1 FROM instagram_club_events FOR UPDATE", (), script_env, tmp_path)

    assert db.execute("SELECT count(*) FROM instagram_posts").fetchone() == (len(club.posts) - 1,)  # page not stored
    assert db.execute(
        "SELECT count(*) FROM instagram_events e LEFT JOIN instagram_club_events c ON c.id = e.club_event_id"
        " WHERE c.id IS NULL"
    ).fetchone() == (0,)
    run()
    ((*_, starts),) = _view(db)
    assert starts.endswith("19:00")


# -- guarantees that hold through the view ---------------------------------------------------------------


def test_a_post_marked_deleted_by_hand_leaves_the_view(fake, link, db, run):
    club = _announced(fake, link, f"Yoga {_ahead(3)} 8am on the South Lawn")
    run()

    db.execute("UPDATE instagram_posts SET deleted_at = now() WHERE caption LIKE 'Yoga%'")

    assert _view(db) == []
    assert len(club.posts) == 3


def test_an_all_day_event_is_listed_on_its_own_day(fake, link, db, run):
    _announced(fake, link, "Bake sale today at the Union stall, all day!")

    run()

    ((_, _, _, _, _, _, starts),) = _view(db)
    assert starts == f"{datetime.now(MELBOURNE):%Y-%m-%d} 00:00"


def test_a_dry_run_writes_no_first_absence_mark(fake, link, db, run):
    club = fake.add_account("drymarks", posts=10)
    link(club)
    run()
    gone = club.posts[4]
    fake.delete(club, gone)

    dry = run("run", "--dry-run")
    run()  # the first real absence

    assert "would mark" not in dry.stderr  # a first absence marks nothing, even in a dry run
    marks = db.execute("SELECT missing_since_run, deleted_at FROM instagram_posts WHERE media_id = %s",
                       (gone.id,)).fetchone()  # fmt: skip
    assert marks[0] is not None and marks[1] is None


# -- the calendar -------------------------------------------------------------------------------------


def _calendar(script_env, tmp_path) -> icalendar.Calendar:
    """``events --ics`` as a calendar app reads it: the bytes, CRLF and all."""
    done = subprocess.run([sys.executable, str(SCRIPT), "events", "--ics", "--days", "30"], env=script_env,
                          cwd=tmp_path, capture_output=True, timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    lines = done.stdout.split(b"\r\n")
    assert lines[-1] == b"" and all(b"\n" not in line and len(line) <= 75 for line in lines)
    return icalendar.Calendar.from_ical(done.stdout)


def test_the_calendar_reads_back_with_stable_uids_a_grown_sequence_and_cancellations(fake, link, db, run, script_env,
                                                                                     tmp_path):  # fmt: skip
    day = _ahead(9)
    club = _announced(fake, link, f"Ceilidh {day} 7pm at the Guild Hall", f"Games night {_ahead(10)}, 6pm, Arts West")
    run()
    first = {e["UID"]: e for e in _calendar(script_env, tmp_path).walk("VEVENT")}
    fake.publish(club)[0].caption = f"Ceilidh {day}: now at 8pm!"
    run()
    cancel = fake.publish(club)[0]
    cancel.caption = "Games night is cancelled, sorry 😔"
    run()

    second = {e["UID"]: e for e in _calendar(script_env, tmp_path).walk("VEVENT")}

    assert set(first) == set(second) and len(first) == 2
    by_title = {str(e["SUMMARY"]): e for e in second.values()}
    assert by_title["Ceilidh"]["SEQUENCE"] == 1
    assert by_title["Ceilidh"].decoded("DTSTART").astimezone(MELBOURNE).hour == 20
    assert str(by_title["Games night"]["STATUS"]) == "CANCELLED"
    assert str(by_title["Ceilidh"]["LOCATION"]) == "the Guild Hall"
    assert str(by_title["Ceilidh"]["URL"]).startswith("https://www.instagram.com/p/")


def test_a_hostile_caption_keeps_the_calendar_valid(fake, link, db, run, script_env, tmp_path):
    hostile = ("Jam sesh, live; \\o/ " + "🎸" * 40 + f" {_ahead(4)} 7pm at Bar; Cafe, Lygon St\nline two\ud800 "
               + "x" * 2_000_000)  # fmt: skip
    _announced(fake, link, hostile)
    run()

    (event,) = _calendar(script_env, tmp_path).walk("VEVENT")

    assert str(event["LOCATION"]) == "Bar"
    assert str(event["DESCRIPTION"]).startswith("club: Jam sesh, live; \\o/ 🎸🎸")
    assert "\ufffd" in str(event["DESCRIPTION"]) or "line two" in str(event["DESCRIPTION"])


def test_a_runs_own_rederivation_leaves_an_account_another_run_holds_to_that_run(fake, link, db, run, script_env,
                                                                                  tmp_path):  # fmt: skip
    busy = _announced(fake, link, f"Trivia {_ahead(3)} 7pm at the Clyde", name="heldclub")
    other = _announced(fake, link, f"Chess {_ahead(4)} 1pm, the Library", name="freeclub")
    run()
    db.execute("UPDATE instagram_posts SET events_version = NULL")
    fake.fault(busy, "hold")
    holder = subprocess.Popen([sys.executable, str(SCRIPT), "run", "--account", "heldclub"],
                              env={**script_env, "HTTP_TIMEOUT": "120"}, cwd=tmp_path, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert fake.held.wait(20)
        beside = run()
        stale = db.execute(
            "SELECT ig_user_id, count(*) FROM instagram_posts WHERE events_version IS NULL GROUP BY ig_user_id"
        ).fetchall()
    finally:
        fake.released.set()
    holder.communicate(timeout=60)

    assert beside.status == 0, beside.stderr
    assert stale == [(busy.ig_user_id, len(busy.posts))]  # the free club's were derived again, the held one's not
    assert holder.returncode == 0
    assert db.execute("SELECT count(*) FROM instagram_posts WHERE events_version IS NULL").fetchone() == (0,)
    assert len(_view(db)) == 2 and other.username == "freeclub"


def test_a_restored_post_brings_its_event_back_with_the_same_id(fake, link, db, run):
    club = _announced(fake, link, f"Salsa night {_ahead(6)}, 8pm at the Grad Bar 💃")
    run()
    ((event_id, *_),) = _view(db)
    post = next(p for p in club.posts if p.caption and "Salsa" in p.caption)
    fake.delete(club, post)
    run()
    run()  # a second absence: the post is deleted, and its event leaves the view
    gone = _view(db)

    fake.restore(club, post)
    run()

    assert gone == []
    ((again, *_),) = _view(db)
    assert again == event_id
