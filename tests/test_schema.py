"""The schema: created by every invocation, idempotent, safe from two processes at once."""

from __future__ import annotations

import subprocess
import sys

from tests.conftest import SCRIPT, stored_posts


def _columns(db, table: str) -> dict[str, str]:
    rows = db.execute("SELECT column_name, data_type FROM information_schema.columns WHERE table_name = %s", (table,))
    return dict(rows)


def _indexed_columns(db, table: str) -> set[str]:
    rows = db.execute(
        """SELECT string_agg(a.attname, ',' ORDER BY k.ord)
           FROM pg_index i
           CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord)
           JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum
           WHERE i.indrelid = %s::regclass GROUP BY i.indexrelid""",
        (table,),
    )
    return {r[0] for r in rows}


def test_first_run_creates_the_design_tables_with_timestamptz(db, run):
    assert run().status == 0

    accounts = _columns(db, "instagram_accounts")
    posts = _columns(db, "instagram_posts")
    for column in ("id", "ig_user_id", "account_name", "access_token", "priority"):
        assert column in accounts
    for column in ("token_expires_at", "last_synced_at", "created_at", "updated_at", "last_checked_at"):
        assert accounts[column] == "timestamp with time zone"
    for column in ("media_id", "ig_user_id", "caption", "media_url", "permalink", "media_type"):
        assert posts[column] == "text"
    for column in ("timestamp", "created_at", "updated_at"):
        assert posts[column] == "timestamp with time zone"
    assert {"ig_user_id", "priority,last_synced_at"} <= _indexed_columns(db, "instagram_accounts")
    assert {"media_id", "ig_user_id,timestamp", "timestamp"} <= _indexed_columns(db, "instagram_posts")


def test_defaults_match_the_design(db, run):
    run()

    db.execute(
        "INSERT INTO instagram_accounts (ig_user_id, account_name, access_token, token_expires_at)"
        " VALUES ('1', 'x', 'IGtoken-xxxx', now())"
    )
    row = db.execute("SELECT priority, created_at IS NOT NULL, last_synced_at FROM instagram_accounts").fetchone()
    assert row == (2, True, None)


def test_duplicate_media_id_is_rejected_by_the_database(db, run):
    run()
    insert = "INSERT INTO instagram_posts (media_id, ig_user_id, \"timestamp\") VALUES ('1', '2', now())"
    db.execute(insert)

    try:
        db.execute(insert)
    except Exception as exc:  # noqa: BLE001 - any unique violation will do
        assert "instagram_posts_media_id_key" in str(exc)
    else:
        raise AssertionError("a second row with the same media_id was accepted")


def test_running_twice_leaves_the_schema_as_it_was(db, run):
    run()
    before = db.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'instagram_%'").fetchone()

    assert run().status == 0

    assert db.execute("SELECT count(*) FROM pg_indexes WHERE tablename LIKE 'instagram_%'").fetchone() == before


def test_two_processes_creating_the_schema_at_once_both_succeed(db, script_env, tmp_path):
    procs = [
        subprocess.Popen(
            [sys.executable, str(SCRIPT)],
            env=script_env,
            cwd=tmp_path,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )  # fmt: skip
        for _ in range(2)
    ]
    outputs = [p.communicate(timeout=60) for p in procs]

    assert [p.returncode for p in procs] == [0, 0], outputs


def test_tables_made_by_hand_from_the_design_are_completed(fake, db, run):
    db.execute(
        """CREATE TABLE instagram_accounts (
               id SERIAL PRIMARY KEY, ig_user_id TEXT UNIQUE NOT NULL, account_name TEXT NOT NULL,
               access_token TEXT NOT NULL, token_expires_at TIMESTAMP NOT NULL, last_synced_at TIMESTAMP,
               priority INTEGER DEFAULT 2, created_at TIMESTAMP NOT NULL DEFAULT NOW(),
               updated_at TIMESTAMP NOT NULL DEFAULT NOW());
           CREATE TABLE instagram_posts (
               id SERIAL PRIMARY KEY, media_id TEXT UNIQUE NOT NULL, ig_user_id TEXT NOT NULL, caption TEXT,
               media_url TEXT, timestamp TIMESTAMP NOT NULL, created_at TIMESTAMP NOT NULL DEFAULT NOW());"""
    )
    club = fake.add_account("handmade", posts=3)
    db.execute(
        "INSERT INTO instagram_accounts (ig_user_id, account_name, access_token, token_expires_at)"
        " VALUES (%s, 'Handmade', %s, now() + interval '30 days')",
        (club.ig_user_id, club.token),
    )

    result = run()

    assert result.status == 0, result.stderr
    assert len(stored_posts(db, club)) == 3
    assert "permalink" in _columns(db, "instagram_posts")
