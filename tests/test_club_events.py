"""One event, once: the mentions of a club become one club event per real event. First the planner
alone (captions in, club events out, no database), then the tables, the view, the commands and the
calendar against a real Postgres and the fake Graph API."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from ingest_instagram import ClubEvent, Mention, plan_club_events, read_caption

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
