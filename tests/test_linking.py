"""Linking clubs through Instagram's own login: a link for the admin, the address they land on, one
command; every way an admin or Meta can refuse is one clear line, with nothing stored and nothing leaked."""

from __future__ import annotations

import json
from urllib.parse import parse_qsl, urlsplit

import pytest
import requests

from tests.conftest import account_row, stored_posts


def _link_url(run, name: str, *extra: str) -> str:
    result = run("link-url", "--name", name, *extra)
    assert result.status == 0, result.stderr
    return result.stdout.strip()


def _approve(address: str, login: str | None = None) -> str:
    """The admin opens the link in Instagram's (fake) login window and approves: where the browser lands."""
    url = address + (f"&login={login}" if login else "")
    answer = requests.get(url, allow_redirects=False, timeout=10)
    assert answer.status_code == 302, answer.text
    return answer.headers["Location"]


@pytest.fixture(autouse=True)
def nothing_leaks(fake, db, run):
    """After every test here: no authorization code, token or app secret in any output or table;
    a token only in the access_token column, where it belongs."""
    yield
    texts = [r.stdout + r.stderr for r in run.results]
    for table in ("instagram_accounts", "instagram_link_requests", "instagram_sync_runs"):
        if db.execute("SELECT to_regclass(%s)", (table,)).fetchone()[0]:
            columns = "*" if table != "instagram_accounts" else "account_name, last_error, status, dead_token_sha256"
            texts += [str(row) for row in db.execute(f"SELECT {columns} FROM {table}")]
    everything = " ".join(texts)
    tokens = [t for a in fake.accounts.values() for t in a.tokens]
    assert [s for s in [*fake.codes, *tokens, fake.app_secret] if s in everything] == []


def test_link_url_gives_the_authorization_address_and_keeps_its_state(fake, db, run):
    address = _link_url(run, "Chess Club", "--priority", "1")

    parts = urlsplit(address)
    query = dict(parse_qsl(parts.query))
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{fake.api_url}/oauth/authorize"
    assert query["client_id"] == fake.app_id
    assert query["redirect_uri"] == fake.redirect_uri  # byte for byte, trailing slash included
    assert (query["response_type"], query["scope"]) == ("code", "instagram_business_basic")
    assert len(query["state"]) >= 16
    row = db.execute("SELECT state_sha256, account_name, priority FROM instagram_link_requests").fetchone()
    assert row[1:] == ("Chess Club", 1)
    assert query["state"] not in row[0]  # kept as its digest


def test_a_club_linked_through_the_login_flow_is_synced(fake, db, run):
    club = fake.add_account("chessclub", posts=3)

    landed = _approve(_link_url(run, "Chess Club", "--priority", "1"))
    assert landed.endswith("#_")
    linked = run("add-account", "--redirect-url", landed)

    assert linked.status == 0, linked.stderr
    assert "Linked Chess Club (@chessclub" in linked.stdout
    row = account_row(db, club)
    assert (row["account_name"], row["priority"], row["ig_user_id"]) == ("Chess Club", 1, club.ig_user_id)
    assert row["access_token"] == club.token  # the long-lived one, exchanged from the short
    exchange = [r for r in fake.requests if r.method == "POST"]
    assert [(r.host, r.path) for r in exchange] == [("api", "/oauth/access_token")]
    assert exchange[0].params["grant_type"] == "authorization_code"
    assert exchange[0].params["redirect_uri"] == fake.redirect_uri
    assert run().summary["posts_inserted"] == 3
    assert len(stored_posts(db, club)) == 3


def test_the_address_may_be_pasted_without_its_trailing_marker(fake, db, run):
    club = fake.add_account("nohash", posts=1)

    landed = _approve(_link_url(run, "No Hash")).removesuffix("#_")

    assert run("add-account", "--redirect-url", landed).status == 0
    assert account_row(db, club)["account_name"] == "No Hash"


def test_a_code_alone_links_with_a_name(fake, db, run):
    club = fake.add_account("codeonly", posts=1)
    fake.wrapped_code_answer = True  # as once documented: the answer in data

    result = run("add-account", "--code", fake.approve(club), "--name", "Code Only", "--priority", "3")

    assert result.status == 0, result.stderr
    assert (account_row(db, club)["account_name"], account_row(db, club)["priority"]) == ("Code Only", 3)


def test_a_code_alone_without_a_name_is_refused(fake, db, run):
    club = fake.add_account("noname")

    result = run("add-account", "--code", fake.approve(club))

    assert result.status == 2
    assert "give the club's name with --name" in result.stderr
    assert [r for r in fake.requests if r.method == "POST"] == []


def test_a_state_used_twice_is_refused_before_meta_is_asked(fake, db, run):
    fake.add_account("twice")
    address = _link_url(run, "Twice")
    first = _approve(address)
    assert run("add-account", "--redirect-url", first).status == 0
    second = _approve(address)  # the admin opens the same link again
    posts_before = len([r for r in fake.requests if r.method == "POST"])

    again = run("add-account", "--redirect-url", second)

    assert again.status == 2
    assert "that approval of Twice was used already" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1
    assert len([r for r in fake.requests if r.method == "POST"]) == posts_before


@pytest.mark.parametrize(
    ("state", "says"),
    [("not-a-state-we-made-0123456789", "the state in that address is unknown"), ("expired", "expired")],
)
def test_an_unknown_or_expired_state_is_refused_before_meta_is_asked(fake, db, run, state, says):
    club = fake.add_account("stale")
    if state == "expired":
        address = _link_url(run, "Stale")
        state = dict(parse_qsl(urlsplit(address).query))["state"]
        db.execute("UPDATE instagram_link_requests SET created_at = now() - interval '25 hours'")
    landed = f"{fake.redirect_uri}?code={fake.approve(club)}&state={state}#_"

    result = run("add-account", "--redirect-url", landed)

    assert result.status == 2
    assert says in result.stderr
    assert [r for r in fake.requests if r.method == "POST"] == []
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)


def test_two_clubs_linked_at_once_each_get_their_own_name(fake, db, run):
    chess = fake.add_account("chess2", posts=1)
    drama = fake.add_account("drama2", posts=1)
    chess_link, drama_link = _link_url(run, "Chess"), _link_url(run, "Drama", "--priority", "3")

    drama_landed = _approve(drama_link, login="drama2")
    chess_landed = _approve(chess_link, login="chess2")
    assert run("add-account", "--redirect-url", drama_landed).status == 0
    assert run("add-account", "--redirect-url", chess_landed).status == 0

    assert (account_row(db, chess)["account_name"], account_row(db, chess)["priority"]) == ("Chess", 2)
    assert (account_row(db, drama)["account_name"], account_row(db, drama)["priority"]) == ("Drama", 3)


# -- what a club admin can get wrong -----------------------------------------------------------------


def _one_line(result) -> str:
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def test_an_admin_who_declined_is_told_apart(fake, db, run):
    fake.add_account("decliner")
    fake.declines = True
    landed = _approve(_link_url(run, "Decliner"))

    result = run("add-account", "--redirect-url", landed)

    assert result.status == 1
    assert "the club admin did not approve the app (user_denied)" in _one_line(result)
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)


def test_a_code_used_already_is_explained(fake, db, run):
    club = fake.add_account("usedcode")
    code = fake.approve(club)
    assert run("add-account", "--code", code, "--name", "Used").status == 0
    db.execute("DELETE FROM instagram_accounts")

    result = run("add-account", "--code", code, "--name", "Used")

    assert result.status == 1
    assert "that authorization code was used already" in _one_line(result)
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)


def test_a_code_older_than_an_hour_is_explained(fake, db, run):
    from datetime import timedelta

    club = fake.add_account("oldcode")
    code = fake.approve(club)
    fake.codes[code].issued_at -= timedelta(minutes=61)

    result = run("add-account", "--code", code, "--name", "Old")

    assert result.status == 1
    assert "that authorization code expired (codes last an hour)" in _one_line(result)


def test_a_redirect_uri_that_differs_from_the_registered_one_is_explained(fake, db, run):
    club = fake.add_account("mismatch")
    code = fake.approve(club)

    result = run("add-account", "--code", code, "--name", "Mismatch",
                 INSTAGRAM_REDIRECT_URI=fake.redirect_uri.rstrip("/"))  # fmt: skip

    assert result.status == 1
    line = _one_line(result)
    assert "the redirect URI does not match" in line and "trailing slash included" in line
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)


def test_a_personal_account_is_told_it_must_be_professional(fake, db, run):
    club = fake.add_account("personal")
    club.account_type = "PERSONAL"

    result = run("add-account", "--redirect-url", _approve(_link_url(run, "Personal")))

    assert result.status == 1
    assert "only a professional (business or creator) account can be linked" in _one_line(result)
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)
    assert db.execute("SELECT used_at FROM instagram_link_requests").fetchone() == (None,)  # the link stays usable


def test_a_permission_left_unticked_is_named(fake, db, run):
    fake.add_account("unticked")
    fake.granted = ["instagram_business_manage_messages"]

    result = run("add-account", "--redirect-url", _approve(_link_url(run, "Unticked")))

    assert result.status == 1
    assert "the admin did not grant instagram_business_basic" in _one_line(result)
    assert db.execute("SELECT count(*) FROM instagram_accounts").fetchone() == (0,)


@pytest.mark.parametrize(
    ("command", "unset", "named"),
    [
        (["link-url", "--name", "X"], ["INSTAGRAM_REDIRECT_URI"], "INSTAGRAM_REDIRECT_URI must be set"),
        (["link-url", "--name", "X"], ["INSTAGRAM_APP_ID"], "INSTAGRAM_APP_ID must be set"),
        (["add-account", "--code", "AQxyz12345", "--name", "X"], ["INSTAGRAM_APP_SECRET", "INSTAGRAM_REDIRECT_URI"],
         "INSTAGRAM_APP_SECRET and INSTAGRAM_REDIRECT_URI must be set"),
    ],
)  # fmt: skip
def test_missing_settings_are_named_in_one_line(fake, db, cli, command, unset, named):
    result = cli(*command, **{name: "" for name in unset})

    assert result.status == 2
    assert named in _one_line(result)
    assert fake.requests == []


def test_a_redirect_uri_that_is_not_https_is_a_configuration_error(cli):
    result = cli("link-url", "--name", "X", INSTAGRAM_REDIRECT_URI="http://connect3.example/linked/")

    assert result.status == 2
    assert "INSTAGRAM_REDIRECT_URI must be the https address" in _one_line(result)


def test_status_lists_links_waiting_for_approval(fake, db, run):
    _link_url(run, "Waiting Club")
    db.execute("UPDATE instagram_link_requests SET created_at = now() - interval '3 hours'")
    _link_url(run, "Expired Club")
    db.execute(
        "UPDATE instagram_link_requests SET created_at = now() - interval '2 days' WHERE account_name = 'Expired Club'"
    )

    text = run("status").stdout
    data = json.loads(run("status", "--json").stdout)

    assert "Waiting for an admin's approval:\n  Waiting Club: link sent 3 h ago" in text
    assert "Expired Club" not in text
    assert [r["account_name"] for r in data["link_requests"]] == ["Waiting Club"]


def test_the_code_exchange_is_never_retried(fake, db, run):
    club = fake.add_account("noretry")
    code = fake.approve(club)
    fake.api_down = True

    result = run("add-account", "--code", code, "--name", "No Retry", HTTP_RETRIES="3")

    assert result.status == 1
    assert len([r for r in fake.requests if r.method == "POST"]) == 1
