"""Meta as it really answers: the shapes seen in answers recorded from the live API (usage headers per
host, IGApiException, code 100 that is no dead cursor, the flat code exchange, api.instagram.com's flat
refusals, personal accounts, expired tokens, a post missing a field, paging as recorded), against the fake
over real HTTP, which answers in those shapes by default."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
import requests

from tests.conftest import account_row, stored_posts
from tests.test_linking import _approve, _link_url, _one_line, nothing_leaks  # noqa: F401 (an autouse fixture)

# -- the usage header on graph.instagram.com ---------------------------------------------------


def test_instagram_usage_header_is_read_in_its_own_spelling(fake, link, db, run):
    club = fake.add_account("usage", posts=120)
    link(club)
    fake.instagram_usage = {"call_volume": 88, "cpu_time": 3}

    summary = run().summary

    assert summary["highest_usage_pct"] == 88
    assert summary["requests_made"] == 1  # past USAGE_THRESHOLD (80): one page per account
    assert len(stored_posts(db, club)) == 50


def test_instagram_answers_without_a_usage_header_read_as_unused(fake, link, db, run):
    club = fake.add_account("noheader", posts=120)
    link(club)
    fake.instagram_usage = None  # as recorded in 2020: no usage header at all

    summary = run().summary

    assert summary["highest_usage_pct"] == 0
    assert len(stored_posts(db, club)) == 120


def test_the_fake_spells_usage_per_host(fake):
    """What the recorded answers show, so that every other test meets it."""
    ig = fake.add_account("ighost", posts=1)
    fb = fake.add_account("fbhost", posts=1, login="facebook")

    on_ig = requests.get(f"{fake.instagram_url}/v25.0/{ig.ig_user_id}/media", {"access_token": ig.token}, timeout=5)
    on_fb = requests.get(f"{fake.facebook_url}/v25.0/{fb.ig_user_id}/media", {"access_token": fb.token}, timeout=5)

    assert set(json.loads(on_ig.headers["X-App-Usage"])) == {"call_volume", "cpu_time"}
    assert "X-Business-Use-Case-Usage" not in on_ig.headers
    assert set(json.loads(on_fb.headers["X-App-Usage"])) == {"call_count", "total_cputime", "total_time"}
    assert fb.ig_user_id in json.loads(on_fb.headers["X-Business-Use-Case-Usage"])


# -- error types: nothing keys on OAuthException -------------------------------------------------


@pytest.mark.parametrize(
    ("code", "subcode", "status_after"),
    [(190, 463, "needs_reauth"), (4, None, "active"), (17, None, "active")],
)
def test_errors_are_read_by_code_whatever_their_type(fake, link, db, run, code, subcode, status_after):
    club = fake.add_account("typed", posts=2)
    link(club, name="Typed")
    fake.fault(club, "error", code=code, subcode=subcode, type="IGApiException", message="Something in other words")

    result = run()

    assert account_row(db, club)["status"] == status_after
    if code == 190:
        assert "must log in again and re-link the account" in result.stderr
    elif code == 4:
        assert "Stopping the batch: Meta throttles the whole app" in result.stderr
    else:
        assert "Typed: rate-limited by Meta" in result.stderr


def test_the_fake_answers_igapiexception_on_graph_instagram_com(fake):
    club = fake.add_account("typeofit", posts=1)

    wrong_id = requests.get(f"{fake.instagram_url}/v25.0/1784100/media", {"access_token": club.token}, timeout=5)
    unknown = requests.get(f"{fake.instagram_url}/v25.0/{club.ig_user_id}/insights/x", {"access_token": club.token},
                           timeout=5)  # fmt: skip

    assert wrong_id.json()["error"] | {"fbtrace_id": ""} == {
        "message": "Unsupported request - method type: get", "type": "IGApiException", "code": 100, "fbtrace_id": ""
    }  # fmt: skip
    assert (unknown.json()["error"]["type"], unknown.json()["error"]["code"]) == ("IGApiException", 2500)


# -- code 100 is not always a dead cursor ---------------------------------------------------------


def test_unsupported_request_for_a_wrong_id_fails_once_with_advice(fake, link, db, run):
    club = fake.add_account("wrongid", posts=5)
    link(club, name="Wrong Id")
    db.execute("UPDATE instagram_accounts SET ig_user_id = '17841499999999999'")

    result = run()

    assert result.status == 1
    assert "Wrong Id: Unsupported request - method type: get (HTTP 400, code 100)" in result.stderr
    assert "its ig_user_id may be wrong, or the app lacks a permission" in result.stderr
    assert "cursor" not in result.stderr
    assert len(fake.media_requests()) == 1


@pytest.mark.parametrize(
    ("message", "subcode"),
    [
        ("Unsupported request - method type: get", None),
        ("Unsupported get request. Object with ID '1' does not exist, cannot be loaded due to missing permissions", 33),
    ],
)
def test_a_cursor_refused_with_the_top_refused_too_keeps_the_walk_and_fails(fake, link, db, run, message, subcode):
    club = fake.add_account("lostperm", posts=300)
    link(club, name="Lost Permission")
    run(MAX_PAGES_PER_ACCOUNT="2")
    saved = account_row(db, club)["pending_walks"]
    fake.fault(club, "error", code=100, subcode=subcode, message=message, times=2, skip=1)  # cursor, then the top

    result = run()

    assert result.status == 1
    assert f"Lost Permission: {message}" in result.stderr
    assert "its ig_user_id may be wrong, or the app lacks a permission" in result.stderr
    assert "refused the saved cursor" not in result.stderr and "deleted" not in result.stderr
    assert account_row(db, club)["pending_walks"] == saved  # no restart: the walk keeps its cursor
    assert [bool(r.params.get("after")) for r in fake.media_requests(club)][-3:] == [False, True, False]


def test_a_cursor_refused_with_100_33_restarts_once_the_top_answers(fake, link, db, run):
    club = fake.add_account("cursor33", posts=300)
    link(club, name="Cursor 33")
    run(MAX_PAGES_PER_ACCOUNT="2")
    fake.fault(club, "error", code=100, subcode=33, skip=1,
               message="Unsupported get request. Object with ID 'x' does not exist")  # fmt: skip

    result = run(MAX_PAGES_PER_ACCOUNT="8")

    assert result.status == 0, result.stderr
    assert "Cursor 33: Meta refused the saved cursor of an unfinished walk" in result.stderr
    assert "The first page without it was answered" in result.stderr
    assert account_row(db, club)["pending_walks"] == []
    assert len(stored_posts(db, club)) == 300


# -- the code exchange answers flat ------------------------------------------------------------------


def test_the_code_exchange_answers_flat_with_a_big_bare_number(fake):
    club = fake.add_account("bigid")
    form = {"client_id": fake.app_id, "client_secret": fake.app_secret, "grant_type": "authorization_code",
            "redirect_uri": fake.redirect_uri, "code": fake.approve(club)}  # fmt: skip

    answer = requests.post(f"{fake.api_url}/oauth/access_token", data=form, timeout=5)

    assert set(answer.json()) == {"access_token", "user_id"}
    assert f'"user_id": {club.app_scoped_id}' in answer.text  # a bare number, not a string
    assert answer.json()["user_id"] > 2**53 and str(answer.json()["user_id"]) == club.app_scoped_id


def test_a_flat_exchange_links_the_professional_id_not_the_app_scoped_one(fake, db, run):
    club = fake.add_account("flatlink", posts=1)

    result = run("add-account", "--code", fake.approve(club), "--name", "Flat")

    assert result.status == 0, result.stderr
    assert account_row(db, club)["ig_user_id"] == club.ig_user_id != club.app_scoped_id


@pytest.mark.parametrize("listed", [False, True])
def test_an_unticked_basic_permission_is_one_line_whether_or_not_the_exchange_lists_it(fake, db, run, listed):
    fake.add_account("unticked2")
    fake.granted = ["instagram_business_manage_messages"]
    fake.lists_permissions = listed

    result = run("add-account", "--redirect-url", _approve(_link_url(run, "Unticked")))

    assert result.status == 1
    assert "the admin did not grant instagram_business_basic" in _one_line(result)
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)
    asked_me = [r for r in fake.requests if r.path.endswith("/me")]
    assert bool(asked_me) is not listed  # unlisted: /me's permission error (code 10) tells


# -- api.instagram.com's refusals -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("refusal", "says"),
    [
        ("Invalid authorization code", "that authorization code is used up or expired"),
        ("This authorization code has been used", "that authorization code was used already"),
        ("Matching code was not found or was already used.", "that authorization code was used already"),
        ("Error validating verification code. Please make sure your redirect_uri is identical to the one you used"
         " in the OAuth dialog request", "INSTAGRAM_REDIRECT_URI must be the address registered"),
        ("Invalid platform app", "it must be the Instagram app id"),
        ("Insufficient developer role", "add it under App roles"),
    ],
)  # fmt: skip
def test_each_code_refusal_says_what_to_do(fake, db, run, refusal, says):
    club = fake.add_account("refused")
    fake.code_refusal = refusal

    result = run("add-account", "--code", fake.approve(club), "--name", "Refused")

    assert result.status == 1
    assert says in _one_line(result)
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)


def test_an_unknown_app_id_is_named(fake, db, run):
    club = fake.add_account("wrongapp")

    result = run("add-account", "--code", fake.approve(club), "--name", "X", INSTAGRAM_APP_ID="987654321")

    assert result.status == 1
    assert "INSTAGRAM_APP_ID names: it must be the Instagram app id" in _one_line(result)


def test_an_account_without_a_role_in_a_development_app_is_told_where_to_add_it(fake, db, run):
    club = fake.add_account("notester")
    club.app_role = False

    result = run("add-account", "--code", fake.approve(club), "--name", "No Tester")

    assert result.status == 1
    assert "add it under App roles > Roles > Instagram testers" in _one_line(result)


# -- a personal account --------------------------------------------------------------------------------


def test_a_personal_token_given_by_hand_is_the_personal_account_line(fake, db, run):
    club = fake.add_account("personal2")
    club.account_type = "PERSONAL"

    result = run("add-account", "--token", fake.short_lived_token(club))

    assert result.status == 1
    assert "is a personal account: only a professional" in _one_line(result)
    assert "no user_id" not in result.stderr
    assert db.execute("SELECT to_regclass('instagram_accounts')").fetchone() == (None,)  # refused before the database


# -- expired tokens ------------------------------------------------------------------------------------


def test_a_token_meta_says_expired_needs_reauthorisation_with_no_refresh(fake, link, db, run):
    club = fake.add_account("lapsed", posts=2, token_age=timedelta(days=61))  # Meta's copy expired
    link(club, name="Lapsed")

    result = run()

    assert result.status == 1
    assert "Lapsed: Error validating access token: Session has expired" in result.stderr
    assert account_row(db, club)["status"] == "needs_reauth"
    assert [r.path for r in fake.requests] == [f"/v25.0/{club.ig_user_id}/media"]


def test_the_fake_puts_a_refused_token_in_www_authenticate(fake):
    answer = requests.get(f"{fake.instagram_url}/v25.0/me", {"access_token": "IGAAnot-a-token"}, timeout=5)

    assert answer.json()["error"]["code"] == 190
    assert '"invalid_token"' in answer.headers["WWW-Authenticate"]


def test_a_refused_token_said_only_in_www_authenticate_is_a_dead_token(fake, link, db, run):
    club = fake.add_account("textonly", posts=2)
    link(club, name="Text Only")
    said = {"status": 400, "content_type": "text/plain", "headers": {
        "WWW-Authenticate": 'OAuth "Facebook Platform" "invalid_token" "Invalid OAuth access token."'},
        "text": "Error validating access token: Session has expired on Friday, 11-Sep-20 06:41:31 PDT."}  # fmt: skip
    fake.fault(club, "html", **said)
    fake.fault(club, "html", endpoint="refresh", **said)

    result = run(HTTP_RETRIES="0")

    assert result.status == 1
    assert "Text Only: Meta rejected the token" in result.stderr  # and one refresh was tried
    assert account_row(db, club)["status"] == "needs_reauth"
    assert "must log in again" in account_row(db, club)["last_error"]


# -- one bad post does not sink a page -----------------------------------------------------------------


def test_a_post_without_an_id_or_a_timestamp_is_skipped_and_the_rest_stored(fake, link, db, run):
    club = fake.add_account("patchy", posts=120)
    link(club, name="Patchy")
    undated, anonymous = club.posts[5], club.posts[70]
    undated.extra["timestamp"] = None
    anonymous.extra["id"] = None

    result = run()

    assert result.status == 0, result.stderr
    assert f"Patchy: skipped post {undated.id} has no timestamp in Meta's /media answer" in result.stderr
    assert "Patchy: skipped a post without an id" in result.stderr
    assert len(stored_posts(db, club)) == 118
    assert account_row(db, club)["pending_walks"] == [] and account_row(db, club)["last_error"] is None


def test_a_stored_post_listed_without_its_timestamp_is_not_taken_for_deleted(fake, link, db, run):
    club = fake.add_account("undated", posts=10)
    link(club)
    run()
    club.posts[1].extra["timestamp"] = None
    fake.publish(club)

    run()
    run()

    marks = db.execute("SELECT missing_since_run, deleted_at FROM instagram_posts WHERE media_id = %s",
                       (club.posts[2].id,)).fetchone()  # fmt: skip
    assert marks == (None, None)


# -- paging as recorded ----------------------------------------------------------------------------------


def test_the_fake_pages_as_recorded(fake):
    club = fake.add_account("recorded", posts=5)
    url = f"{fake.instagram_url}/v25.0/{club.ig_user_id}/media"
    params = {"access_token": club.token, "fields": "caption,timestamp", "limit": "2"}

    first = requests.get(url, params, timeout=5).json()
    middle = requests.get(first["paging"]["next"], timeout=5).json()
    last = requests.get(middle["paging"]["next"], timeout=5).json()

    assert all(list(item)[-1] == "id" for item in first["data"])  # id last, though not asked for
    assert "previous" not in first["paging"] and {"next", "previous"} <= set(middle["paging"])
    assert "next" not in last["paging"] and "previous" in last["paging"]
    assert not any("=" in c for page in (first, middle, last) for c in page["paging"]["cursors"].values())


def test_recorded_paging_and_media_without_media_url_read_as_they_do(fake, link, db, run):
    club = fake.add_account("shapes", posts=130)
    link(club)
    reel = club.posts[60]
    reel.media_type, reel.has_media_url = "VIDEO", False  # copyrighted audio: no media_url, a cover only

    result = run()

    assert result.status == 0, result.stderr
    assert len(stored_posts(db, club)) == 130
    assert [bool(r.params.get("after")) for r in fake.media_requests(club)] == [False, True, True]
    row = db.execute("SELECT media_url, thumbnail_url FROM instagram_posts WHERE media_id = %s", (reel.id,)).fetchone()
    assert row[0] is None and row[1].endswith(f"{reel.id}_thumb.jpg?_nc_ht=scontent&oe=68000000")
