#!/usr/bin/env python3
"""Benchmark ingest_instagram.py: Meta requests, database time, memory and scale.

Runs against the test suite's fake Graph API on 127.0.0.1 (no sleep between accounts) and a real
Postgres: BENCH_DATABASE_URL or TEST_DATABASE_URL (a database "<name>_bench" is created beside it),
else an embedded PostgreSQL. Prints one table of figures and targets; exits 1 when a target is missed.

    python bench/bench.py [--accounts 100] [--posts 1000] [--latency-ms 100] [--workers 4]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "ingest_instagram.py"
sys.path.insert(0, str(ROOT))

import ingest_instagram as ingest  # noqa: E402
from tests.databases import database_beside, embedded_database  # noqa: E402
from tests.fake_graph import FakeGraph  # noqa: E402

PAGE = ingest.MEDIA_PAGE_SIZE


@dataclass
class Row:
    measure: str
    value: str
    target: str = ""
    ok: bool | None = None
    timing: bool = False  # a target on time or memory, which says little at smoke-test sizes


# -- set-up ----------------------------------------------------------------------


@contextmanager
def bench_database() -> Iterator[str]:
    """A database of the bench's own: on the server of BENCH_DATABASE_URL/TEST_DATABASE_URL, or embedded."""
    url = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("TEST_DATABASE_URL")
    if url:
        yield database_beside(url, "bench")
        return
    with embedded_database("ingest-bench-pg-") as url:
        yield url


# Linux carries a process's peak RSS across fork and exec, so a child forked from this big bench
# process would report the bench's own size. A small Python in between forks the script and
# writes down the script's own peak.
_MEASURE_RSS = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execv(sys.executable, [sys.executable, *sys.argv[2:]])
_, status, usage = os.wait4(pid, 0)
open(sys.argv[1], "w").write(str(usage.ru_maxrss))
sys.exit(os.waitstatus_to_exitcode(status))
"""


class Bench:
    """The fake API, the database, and a way to run the script as cron would."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.fake = FakeGraph().start()
        self.db = psycopg.connect(database_url, autocommit=True)
        self.workdir = tempfile.mkdtemp(prefix="ingest-bench-")

    def env(self, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("INSTAGRAM_", "MAX_", "DATABASE_URL"))}
        env.update(
            DATABASE_URL=self.database_url,
            INSTAGRAM_GRAPH_URL=self.fake.instagram_url,
            FACEBOOK_GRAPH_URL=self.fake.facebook_url,
            SLEEP_BETWEEN_ACCOUNTS="0",
            RETRY_BACKOFF="0",
            **extra,
        )
        return env

    def reset(self, accounts: int, posts: int) -> None:
        """Empty tables, and ``accounts`` fake accounts of ``posts`` posts each, linked by hand."""
        self.db.execute(
            "DROP TABLE IF EXISTS instagram_events, instagram_club_events, instagram_posts, instagram_accounts,"
            " instagram_sync_runs, instagram_link_requests CASCADE"
        )
        ingest.ensure_schema(self.db)
        self.fake.accounts.clear()
        self.fake.requests.clear()
        expires = datetime.now(timezone.utc) + timedelta(days=50)
        with self.db.cursor().copy(
            "COPY instagram_accounts (ig_user_id, account_name, access_token, token_expires_at) FROM STDIN"
        ) as copy:
            for n in range(accounts):
                club = self.fake.add_account(f"club{n:04d}", posts=posts, spacing=timedelta(minutes=30))
                copy.write_row((club.ig_user_id, club.username, club.token, expires))

    def run(self, workers: int = 1, script: Path = SCRIPT, **env: str) -> tuple[list[dict[str, Any]], float, float]:
        """Start ``workers`` runs at once; return their summaries, the wall time and the peak RSS (MB)."""
        rss_files = [os.path.join(self.workdir, f"rss{n}") for n in range(workers)]
        command = [sys.executable, "-c", _MEASURE_RSS]
        started = time.perf_counter()
        procs = [
            subprocess.Popen(
                [*command, rss, str(script)],
                env=self.env(**env),
                cwd=self.workdir,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for rss in rss_files
        ]
        answers = [proc.communicate() for proc in procs]
        outputs = [out for out, _ in answers]
        elapsed = time.perf_counter() - started
        if any(proc.returncode for proc in procs):
            raise SystemExit(f"a run failed: {outputs}\n{answers[0][1][-3000:]}")
        peak_kib = max(int(Path(rss).read_text()) for rss in rss_files)
        return [json.loads(out) for out in outputs], elapsed, peak_kib / 1024

    def close(self) -> None:
        self.fake.stop()
        self.db.close()


# -- 1 and 2: steady state and incremental --------------------------------------------


def steady_and_incremental(bench: Bench, accounts: int) -> list[Row]:
    bench.reset(accounts, posts=PAGE + 10)
    bench.run(MAX_REQUESTS_PER_RUN="100000")  # the first sync
    (steady,), steady_time, _ = bench.run()
    for club in bench.fake.accounts.values():
        bench.fake.publish(club, 3)
    bench.fake.cdn_epoch += 1  # Meta's signed media links change: the rest of page 1 is updated
    (incremental,), incremental_time, _ = bench.run()
    return [
        Row(f"steady state: requests, {accounts} accounts, nothing new", str(steady["requests_made"]),
            f"= {accounts}", steady["requests_made"] == accounts),
        Row("steady state: wall time", f"{steady_time:.2f} s"),
        Row(f"incremental: requests, {accounts} accounts x 3 new", str(incremental["requests_made"]),
            f"= {accounts}", incremental["requests_made"] == accounts),
        Row("incremental: posts inserted / updated",
            f"{incremental['posts_inserted']} / {incremental['posts_updated']}",
            f"{3 * accounts} / {(PAGE - 3) * accounts}",
            (incremental["posts_inserted"], incremental["posts_updated"]) == (3 * accounts, (PAGE - 3) * accounts)),
        Row("incremental: wall time", f"{incremental_time:.2f} s"),
    ]  # fmt: skip


# -- 3: the write path of a backfill, against COPY and the design's SELECT-then-INSERT -----


class CountingConnection:
    """Counts the database round trips a write strategy makes: each statement, BEGIN and COMMIT."""

    def __init__(self, conn: psycopg.Connection) -> None:
        self.conn, self.round_trips = conn, 0

    def execute(self, query: str, params: Any = None) -> psycopg.Cursor:
        self.round_trips += 1
        return self.conn.execute(query, params)

    @contextmanager
    def transaction(self) -> Iterator[None]:
        self.round_trips += 2  # BEGIN, COMMIT
        with self.conn.transaction():
            yield


def _pages(bench: Bench, accounts: int, posts: int) -> list[tuple[ingest.Account, list[ingest.Post]]]:
    """Every page of every account, built as the sync builds them: the API is out of the picture."""
    pages = []
    rows = bench.db.execute("SELECT id, ig_user_id, account_name FROM instagram_accounts ORDER BY id").fetchall()
    for account_id, ig_user_id, name in rows[:accounts]:
        club = bench.fake.accounts[ig_user_id]
        account = ingest.Account(account_id, ig_user_id, name, "", datetime.now(timezone.utc), None, None, [])
        grid = [ingest.parse_post(bench.fake.render(p, ingest.MEDIA_FIELDS.split(","))) for p in club.posts[:posts]]
        pages += [(account, grid[i : i + PAGE]) for i in range(0, len(grid), PAGE)]
    return pages


_ACCOUNT_STATE = (
    "UPDATE instagram_accounts SET last_synced_at = greatest(last_synced_at, %s), pending_walks = %s WHERE id = %s"
)
_COLUMNS = '(media_id, ig_user_id, caption, media_type, media_url, permalink, "timestamp")'


def _values(account: ingest.Account, p: ingest.Post) -> tuple[Any, ...]:
    return (p.media_id, account.ig_user_id, p.caption, p.media_type, p.media_url, p.permalink, p.timestamp)


def write_copy(conn: CountingConnection, account: ingest.Account, posts: list[ingest.Post]) -> None:
    """The floor: COPY the rows in (no conflict handling at all), then the account's state."""
    with conn.transaction():
        conn.round_trips += 2  # COPY starts, COPY ends
        with conn.conn.cursor().copy(f"COPY instagram_posts {_COLUMNS} FROM STDIN") as copy:
            for post in posts:
                copy.write_row(_values(account, post))
        conn.execute(_ACCOUNT_STATE, (max(p.timestamp for p in posts), Jsonb([]), account.id))


def write_design(conn: CountingConnection, account: ingest.Account, posts: list[ingest.Post]) -> None:
    """The design's approach: a SELECT per post to skip duplicates, then an INSERT per new post."""
    with conn.transaction():
        for post in posts:
            if conn.execute("SELECT 1 FROM instagram_posts WHERE media_id = %s", (post.media_id,)).fetchone():
                continue
            conn.execute(f"INSERT INTO instagram_posts {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s)",
                         _values(account, post))  # fmt: skip
        conn.execute(_ACCOUNT_STATE, (max(p.timestamp for p in posts), Jsonb([]), account.id))


def write_executemany(conn: CountingConnection, account: ingest.Account, posts: list[ingest.Post]) -> None:
    """An alternative kept out: the same upsert, one row per statement, pipelined by executemany."""
    upsert = (
        f"INSERT INTO instagram_posts {_COLUMNS} VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT (media_id) DO UPDATE "
        "SET caption = EXCLUDED.caption, media_url = EXCLUDED.media_url, permalink = EXCLUDED.permalink"
    )
    with conn.transaction():
        conn.round_trips += 1  # executemany pipelines its statements: one wait
        conn.conn.cursor().executemany(upsert, [_values(account, p) for p in posts])
        conn.execute(_ACCOUNT_STATE, (max(p.timestamp for p in posts), Jsonb([]), account.id))


def write_ours(conn: CountingConnection, account: ingest.Account, posts: list[ingest.Post]) -> None:
    """ingest_instagram.save_page: one statement upserts the page, marks the stored posts it went over
    and no longer lists (none here), and moves the account's state."""
    stretch = ingest.Coverage(min(p.timestamp for p in posts), max(p.timestamp for p in posts))
    write = ingest.PageWrite(posts, [p.media_id for p in posts], stretch, [])
    ingest.save_page(conn, account, write, BENCH_RUN_ID)  # type: ignore[arg-type]


BENCH_RUN_ID = 1  # the run that would have read these pages


def backfill_write_path(bench: Bench, accounts: int, posts: int) -> list[Row]:
    bench.reset(accounts, posts)
    pages = _pages(bench, accounts, posts)
    config = ingest.load_config({"DATABASE_URL": bench.database_url})
    timings: dict[str, tuple[float, float]] = {}
    strategies: dict[str, Callable[..., None]] = {
        "COPY (floor)": write_copy,
        "ours: one INSERT ... ON CONFLICT per page": write_ours,
        "executemany upsert": write_executemany,
        "design: SELECT + INSERT per post (ceiling)": write_design,
    }
    for label, write in strategies.items():
        bench.db.execute("TRUNCATE instagram_posts")
        bench.db.execute("UPDATE instagram_accounts SET last_synced_at = NULL, pending_walks = '[]'")
        conn = CountingConnection(ingest.connect(config))
        started = time.perf_counter()
        for account, page in pages:
            write(conn, account, page)
        timings[label] = (time.perf_counter() - started, conn.round_trips / len(pages))
        stored = bench.db.execute("SELECT count(*) FROM instagram_posts").fetchone()[0]
        if stored != accounts * posts:
            raise SystemExit(f"{label} stored {stored} rows, not {accounts * posts}")
        conn.conn.close()
    floor, ours, ceiling = timings["COPY (floor)"][0], timings[list(strategies)[1]][0], timings[list(strategies)[3]][0]
    rows = [Row(f"backfill write path, {accounts * posts:,} posts in {len(pages):,} pages", "")]
    for label, (seconds, trips) in timings.items():
        rows.append(Row(f"  {label}", f"{seconds:.2f} s, {trips:.0f} round trips/page, {seconds / floor:.2f}x COPY"))
    ours_trips = timings[list(strategies)[1]][1]
    rows += [
        Row("  ours: round trips per page", f"{ours_trips:.0f}", "<= 3", ours_trips <= 3),
        Row("  ours: time against COPY", f"{ours / floor:.2f}x", "<= 2x", ours <= 2 * floor, timing=True),
        Row("  ours: speed-up on the design's approach", f"{ceiling / ours:.1f}x", ">= 8x", ceiling >= 8 * ours, True),
    ]
    return rows


# -- 3 and 4: a whole backfill through the script, and its memory ------------------------


def backfill_runs(bench: Bench, accounts: int, posts: int) -> list[Row]:
    lifted = {"MAX_REQUESTS_PER_RUN": "1000000", "MAX_PAGES_PER_ACCOUNT": "100000"}
    results = {}
    for total_accounts in (max(1, accounts // 10), accounts):
        bench.reset(total_accounts, posts)
        (summary,), elapsed, peak = bench.run(**lifted)
        stored = bench.db.execute("SELECT count(*) FROM instagram_posts").fetchone()[0]
        if stored != total_accounts * posts or summary["posts_inserted"] != stored:
            raise SystemExit(f"backfill stored {stored} posts, not {total_accounts * posts}")
        results[stored] = (summary, elapsed, peak)
    (small, (_, _, small_mb)), (large, (summary, elapsed, large_mb)) = sorted(results.items())
    return [
        Row(f"backfill run: {large:,} posts, whole history, caps lifted",
            f"{elapsed:.1f} s, {summary['requests_made']:,} requests"),
        Row(f"  peak RSS at {small:,} posts", f"{small_mb:.1f} MB"),
        Row(f"  peak RSS at {large:,} posts", f"{large_mb:.1f} MB", "< 80 MB", large_mb < 80, timing=True),
        Row("  peak RSS growth, 10x the posts", f"{large_mb / small_mb:.2f}x", "<= 1.15x (flat)",
            large_mb <= 1.15 * small_mb, timing=True),
    ]  # fmt: skip


# -- 5: events from captions ----------------------------------------------------------------

# The same run with the extraction taken out: the baseline that extraction's cost is measured against.
_WITHOUT_EVENTS = f"""
import sys
sys.path.insert(0, {str(ROOT)!r})
import ingest_instagram
ingest_instagram.events_of = lambda posts, tz: []
sys.exit(ingest_instagram.main())
"""


def _club_captions() -> list[tuple[str, datetime]]:
    """Real-looking club captions with their post times: the labelled examples and the test cases."""
    captions = []
    for name in ("event_examples.jsonl", "event_cases.jsonl", "event_rules.jsonl"):
        for line in (ROOT / "tests" / name).read_text(encoding="utf-8").splitlines():
            case = json.loads(line)
            captions.append((case["caption"], datetime.strptime(case["posted_at"], "%Y-%m-%dT%H:%M:%S%z")))
    return captions


def _per_second(read: Callable[[str, datetime], Any], captions: list[tuple[str, datetime]], seconds: float) -> float:
    read(*captions[0])  # warm: compiled patterns, loaded tables
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for caption, posted_at in captions:
            read(caption, posted_at)
        done += len(captions)
    return done / (time.perf_counter() - started)


def caption_speed(seconds: float = 2.0) -> list[Row]:
    """Captions per second on the captions that name a day (the others are passed over with one
    search), against dateparser's search_dates on the same captions, English only (its fastest)."""
    dated = [(c, p) for c, p in _club_captions() if ingest._MAY_NAME_A_DAY.search(c)]
    tz = ingest.ZoneInfo("Australia/Melbourne")
    rate = _per_second(lambda c, p: ingest.extract_events(c, p, tz), dated, seconds)
    rows = [Row(f"events: dated captions per second ({len(dated)} captions)", f"{rate:,.0f}", ">= 2,000",
                rate >= 2000, timing=True)]  # fmt: skip
    try:
        from dateparser.search import search_dates
    except ImportError:
        return [*rows, Row("  dateparser's search_dates", "not installed (requirements-dev.txt)")]
    settings = {"RELATIVE_BASE": None}

    def rival_read(caption: str, posted_at: datetime) -> Any:
        settings["RELATIVE_BASE"] = posted_at.replace(tzinfo=None)
        return search_dates(caption, languages=["en"], settings=settings)

    rival = _per_second(rival_read, dated, seconds)
    return [
        *rows,
        Row("  dateparser search_dates, languages=en, same captions", f"{rival:,.0f}"),
        Row("  ours against dateparser", f"{rate / rival:.1f}x", ">= 20x", rate / rival >= 20, timing=True),
    ]


def _page_round_trips(bench: Bench) -> int:
    """The round trips one page of club captions takes to be written again, events and their club
    events planned (the read of the club's nearby events included), counted as the write path counts."""
    account, posts = _pages(bench, 1, PAGE)[0]
    tz = ingest.ZoneInfo("Australia/Melbourne")
    events = ingest.events_of(posts, ingest.EventLocale(tz))
    counting = CountingConnection(bench.db)
    ingest.save_page(counting, account, ingest.PageWrite(posts, [p.media_id for p in posts], None, [], events, tz), 0)
    return counting.round_trips


def backfill_with_events(bench: Bench, accounts: int, posts: int, latency_ms: float) -> list[Row]:
    """A whole backfill of club captions, with extraction and club-event merging and without, at a given
    Meta latency; a third of the posts are reminders of the post before them (the same event again)."""
    lifted = {"MAX_REQUESTS_PER_RUN": "1000000", "MAX_PAGES_PER_ACCOUNT": "100000"}
    captions = [c for c, _ in _club_captions()]
    baseline = Path(bench.workdir) / "without_events.py"
    baseline.write_text(_WITHOUT_EVENTS)
    bench.fake.latency = latency_ms / 1000
    timings = {}
    try:
        for label, script in (("without", baseline), ("with", SCRIPT)):
            bench.reset(accounts, posts)
            for club in bench.fake.accounts.values():
                for n, post in enumerate(club.posts):  # newest first: a reminder follows what it recalls
                    post.caption = captions[(n // 3) % len(captions)] if n % 3 else "Reminder! " + captions[
                        (n // 3) % len(captions)]  # fmt: skip
            _, timings[label], _ = bench.run(script=script, **lifted)
    finally:
        bench.fake.latency = 0
    mentions, merged = bench.db.execute(
        "SELECT (SELECT count(*) FROM instagram_events), (SELECT count(*) FROM instagram_club_events)"
    ).fetchone()
    ratio = timings["with"] / timings["without"]
    trips = _page_round_trips(bench)
    return [
        Row(f"backfill with events: {accounts * posts:,} club captions, a third reminders, {latency_ms:.0f} ms per"
            " request", f"{timings['with']:.1f} s, {mentions:,} mentions, {merged:,} club events"),
        Row("  the same run without extraction", f"{timings['without']:.1f} s"),
        Row("  with extraction and merging against without", f"{ratio:.2f}x", "<= 1.2x", ratio <= 1.2, timing=True),
        Row("  database round trips for a page with events", f"{trips}", "<= 2", trips <= 2),
    ]  # fmt: skip


# -- 6: scale over several workers --------------------------------------------------------


def scale(bench: Bench, accounts: int, workers: int, latency_ms: float) -> list[Row]:
    bench.reset(accounts, posts=3)
    bench.fake.latency = latency_ms / 1000
    # One worker is timed on a quarter of the accounts (the rest held back as if throttled): a full
    # one-worker pass at 100 ms a request would take longer than the whole bench may.
    sample = max(1, accounts // workers)
    bench.db.execute("UPDATE instagram_accounts SET throttled_until = now() + interval '1 hour' WHERE id > %s",
                     (sample,))  # fmt: skip
    (alone,), one_worker, _ = bench.run(MAX_REQUESTS_PER_RUN="100000")
    if alone["accounts_processed"] != sample:
        raise SystemExit(f"the one-worker run synced {alone['accounts_processed']} accounts, not {sample}")
    per_account = one_worker / sample
    bench.db.execute("UPDATE instagram_accounts SET throttled_until = NULL, last_checked_at = NULL")
    bench.fake.requests.clear()
    summaries, together, _ = bench.run(workers, **{"MAX_REQUESTS_PER_RUN": "100000"})
    bench.fake.latency = 0
    first_pages: dict[str, int] = {}
    for request in bench.fake.media_requests():
        first_pages[request.path] = first_pages.get(request.path, 0) + 1
    once = len(first_pages) == accounts and set(first_pages.values()) == {1}
    ideal = per_account * accounts / workers
    return [
        Row(f"scale: {accounts} accounts, {latency_ms:.0f} ms per request", ""),
        Row(f"  one worker ({sample} accounts measured)", f"{per_account * 1000:.0f} ms/account, "
            f"{per_account * accounts:.1f} s for {accounts}"),
        Row(f"  {workers} workers together", f"{together:.1f} s = {together / (per_account * accounts):.2f} of one",
            f"<= 1.25 x 1/{workers} ({ideal * 1.25:.1f} s)", together <= 1.25 * ideal, timing=True),
        Row("  each account fetched exactly once", "yes" if once else f"no: {sorted(set(first_pages.values()))}",
            "yes", once),
        Row("  accounts each worker took", ", ".join(str(s["accounts_processed"]) for s in summaries)),
    ]  # fmt: skip


# -- 6: start-up ---------------------------------------------------------------------------


def startup() -> list[Row]:
    times = []
    for _ in range(7):
        started = time.perf_counter()
        subprocess.run([sys.executable, str(SCRIPT), "--help"], stdout=subprocess.DEVNULL, check=True)
        times.append(time.perf_counter() - started)
    median = statistics.median(times)
    return [Row("start-up: ingest_instagram.py --help (median of 7)", f"{median:.3f} s", "< 0.3 s", median < 0.3, True)]


# -- the table -------------------------------------------------------------------------------


def print_table(rows: list[Row]) -> None:
    headers = ("measure", "value", "target", "")
    cells = [(r.measure, r.value, r.target, "" if r.ok is None else ("ok" if r.ok else "missed")) for r in rows]
    widths = [max(len(c[i]) for c in [headers, *cells]) for i in range(4)]
    for line in [headers, tuple("-" * w for w in widths), *cells]:
        print("  ".join(c.ljust(w) for c, w in zip(line, widths)).rstrip())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--accounts", type=int, default=100, help="accounts for steady, incremental, backfill")
    parser.add_argument("--posts", type=int, default=1000, help="posts per account in the backfill")
    parser.add_argument("--latency-ms", type=float, default=100, help="fake API latency in the scale test")
    parser.add_argument("--workers", type=int, default=4, help="worker processes in the scale test")
    parser.add_argument("--scale-accounts", type=int, default=1000, help="accounts in the scale test")
    parser.add_argument(
        "--smoke",
        action="store_true",
        help="tiny sizes, for CI: every figure is printed, but only count targets can fail the run",
    )
    args = parser.parse_args()
    if args.smoke:
        args.accounts, args.posts, args.scale_accounts, args.latency_ms = 10, 200, 40, 20
    started = time.perf_counter()
    with bench_database() as url:
        bench = Bench(url)
        try:
            rows = steady_and_incremental(bench, args.accounts)
            rows += backfill_write_path(bench, args.accounts, args.posts)
            rows += backfill_runs(bench, args.accounts, args.posts)
            rows += caption_speed(0.5 if args.smoke else 3.0)
            rows += backfill_with_events(bench, min(args.accounts, 10), min(args.posts, 500), args.latency_ms)
            rows += scale(bench, args.scale_accounts, args.workers, args.latency_ms)
            rows += startup()
        finally:
            bench.close()
    rows.append(Row("bench wall time", f"{time.perf_counter() - started:.0f} s"))
    print_table(rows)
    missed = [r.measure.strip() for r in rows if r.ok is False and not (args.smoke and r.timing)]
    if missed:
        print(f"\n{len(missed)} target(s) missed: {'; '.join(missed)}", file=sys.stderr)
    elif args.smoke:
        print("\nsmoke run: counts as targeted; timings at this size are for show only")
    return 1 if missed else 0


if __name__ == "__main__":
    sys.exit(main())
