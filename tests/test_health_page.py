"""The health page (status --html) as a person sees it: parsed with an HTML parser for what a reader
looks for, and rendered by a real browser (headless Chromium) for the DOM it builds and a picture."""

from __future__ import annotations

import os
import shutil
import subprocess
import zlib
from datetime import datetime, timedelta, timezone
from html.parser import HTMLParser
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import ingest_instagram
from tests.conftest import ROOT

HOSTILE = '<script>alert(1)</script> & "Co"'


class Page(HTMLParser):
    """Every element (tag, attributes) and the text the page shows."""

    def __init__(self, text: str) -> None:
        super().__init__()
        self.elements: list[tuple[str, dict[str, str]]] = []
        self.texts: list[str] = []
        self.rows: list[list[str]] = []  # the cells of each account row
        self.feed(text)

    def handle_starttag(self, tag: str, attrs: list) -> None:
        self.elements.append((tag, dict(attrs)))
        if tag == "tr":
            self.rows.append([]) if "account" in dict(attrs).get("class", "") else None
        elif tag == "td" and self.rows:
            self.rows[-1].append("")

    def handle_data(self, data: str) -> None:
        self.texts.append(data)
        if self.rows and self.rows[-1]:
            self.rows[-1][-1] += data

    def having(self, tag: str, cls: str | None = None) -> list[dict[str, str]]:
        return [a for t, a in self.elements if t == tag and (cls is None or cls in a.get("class", "").split())]

    @property
    def text(self) -> str:
        return "".join(self.texts)


def _club_data(fake, link, db, run) -> None:
    """Three clubs as the fake serves them: one healthy with events, one failing, one hostile."""
    good = fake.add_account("goodclub", posts=6)
    day = datetime.now(ZoneInfo("Australia/Melbourne")) + timedelta(days=4)
    good.posts[0].caption = f'Trivia night {day:%A} {day.day} {day:%B}, 7pm at the Clyde <b>&amp;</b> "friends"'
    good.posts[1].caption = f"Board games {day:%A} {day.day} {day:%B} 2pm, Arts lounge"
    broken = fake.add_account("brokenclub", posts=3)
    hostile = fake.add_account("hostileclub", posts=3)
    link(good, name="Good Club")
    link(broken, name="Broken Club")
    link(hostile, name=HOSTILE)
    fake.fault(broken, "error", code=10, message="Application does not have permission for this action")
    run()
    db.execute("""INSERT INTO instagram_sync_runs (started_at, finished_at, outcome, requests_made, posts_inserted,
                                                    accounts_failed)
                  SELECT now() - make_interval(days => d), now() - make_interval(days => d) + interval '1 minute',
                         'ok', 40 + 9 * d, 2 * d, CASE WHEN d = 8 THEN 1 ELSE 0 END
                  FROM generate_series(6, 12) AS d""")  # a gap: nothing in the last 5 days but today's


def test_the_page_shows_accounts_failing_first_runs_events_and_links(fake, link, db, run, tmp_path):
    _club_data(fake, link, db, run)
    run("link-url", "--name", "Waiting Club")

    made = run("status", "--html", str(tmp_path / "page.html"))
    page = Page((tmp_path / "page.html").read_text())

    assert made.status == 0, made.stderr
    rows = page.having("tr", "account")
    assert len(rows) == 3
    assert [(r[0], r[2]) for r in page.rows] == [("Broken Club", "failing"), (HOSTILE, "ok"), ("Good Club", "ok")]
    assert "Application does not have permission" in page.rows[0][8]
    assert len(page.having("rect", "run")) == 8 and len(page.having("circle", "failed")) == 2
    assert [a for a in page.having("line", "cap")]  # the budget's line
    assert "Trivia night" in page.text and "Board games" in page.text
    assert any(a.get("href", "").startswith("https://www.instagram.com/p/") for a in page.having("a"))
    assert "Waiting Club: sent" in page.text
    assert "3 accounts" not in page.text and "1 failing" in page.text and "2 ok" in page.text


def test_nothing_from_meta_or_the_database_becomes_markup_and_no_secret_is_in_the_page(fake, link, db, run):
    _club_data(fake, link, db, run)

    html_text = run("status", "--html", "-").stdout
    page = Page(html_text)

    assert page.having("script") == [] and page.having("b") == []
    assert HOSTILE in page.text and "the Clyde <b>&amp" in page.text
    for secret in [t for a in fake.accounts.values() for t in a.tokens] + [fake.app_secret]:
        assert secret not in html_text


def test_the_page_warns_when_the_schedule_stopped_and_says_when_there_is_nothing(run, db):
    empty = Page(run("status", "--html", "-").stdout)
    db.execute("""INSERT INTO instagram_sync_runs (started_at, finished_at, outcome)
                  VALUES (now() - interval '5 hours', now() - interval '5 hours', 'ok')""")
    stale = Page(run("status", "--html", "-").stdout)

    assert "No accounts are linked yet" in empty.text and "No sync run has been recorded" in empty.text
    assert empty.having("svg") == [] and "no run has finished yet" in empty.text
    assert [w for w in stale.having("p", "warning")] and "STALE_AFTER_HOURS=2" in stale.text


def test_the_same_data_and_clock_give_the_same_page(fake, link, db, run):
    _club_data(fake, link, db, run)
    now = datetime.now(timezone.utc)
    config = ingest_instagram.load_config({"DATABASE_URL": db.info.dsn})

    pages = [ingest_instagram.health_page(ingest_instagram.health_data(db, config, now), now, config.event_timezone)
             for _ in range(2)]  # fmt: skip

    assert pages[0] == pages[1]


# -- in a real browser ---------------------------------------------------------------------------------


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):  # .ci/run installs it: there, a missing browser is a failure, not a skip
            pytest.fail("chromium is not installed, and CI must run the browser test")
        pytest.skip("chromium is not installed (Debian: apt-get install chromium)")
    return found


def _browser(*args: str) -> subprocess.CompletedProcess:
    profile = Path(os.environ.get("TMPDIR", "/tmp")) / "ingest-chromium"
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars", "--no-first-run",
             "--disable-extensions", f"--user-data-dir={profile}"]  # fmt: skip
    return subprocess.run([_chromium(), *flags, *args], capture_output=True, text=True, timeout=20)


def _not_blank(png: bytes) -> bool:
    """Whether a PNG's pixels vary (its IDAT data, inflated, holds more than a few byte values)."""
    chunks, pos = b"", 8
    while pos < len(png):
        length = int.from_bytes(png[pos : pos + 4], "big")
        if png[pos + 4 : pos + 8] == b"IDAT":
            chunks += png[pos + 8 : pos + 8 + length]
        pos += 12 + length
    return len(set(zlib.decompress(chunks))) > 16


def test_a_real_browser_builds_the_page_and_draws_it(fake, link, db, run, tmp_path):
    _club_data(fake, link, db, run)
    page_file = tmp_path / "page.html"
    run("status", "--html", str(page_file))

    dom = _browser("--dump-dom", page_file.as_uri())
    shot = _browser("--window-size=1100,1400", f"--screenshot={tmp_path / 'page.png'}", page_file.as_uri())

    assert dom.returncode == 0, dom.stderr[-2000:]
    built = Page(dom.stdout)
    assert len(built.having("tr", "account")) == 3 and built.having("svg")
    assert built.having("script") == [] and HOSTILE in built.text
    assert shot.returncode == 0 and _not_blank((tmp_path / "page.png").read_bytes())
    if os.environ.get("UPDATE_README_PICTURE"):  # python -m pytest -k real_browser with it set, to renew it
        (ROOT / "docs").mkdir(exist_ok=True)
        shutil.copy(tmp_path / "page.png", ROOT / "docs" / "status-page.png")
    assert Path(ROOT / "docs" / "status-page.png").exists()
