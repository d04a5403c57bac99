#!/usr/bin/env python3
"""Keep Connect3's Postgres filled with the posts of club Instagram Business accounts.

Each invocation runs one batch and exits: for every linked account it refreshes the
access token when less than 10% of its lifetime is left, fetches the posts published
since the last run (then continues any unfinished walk through older history), and
upserts them into ``instagram_posts``. Log lines go to stderr; stdout gets one JSON
summary line.

Environment (also read from ``.env`` in the working directory):
  DATABASE_URL            postgresql://user:password@host:port/db   (required)
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

Crontab:
  */30 * * * * cd /srv/connect3-ingest && .venv/bin/python ingest_instagram.py >> ingest.log 2>&1

Exit status: 0 every account synced (or left for the next run), 1 at least one account
failed, 2 configuration or database error.
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import logging
import os
import re
import sys
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import psycopg
import requests
from psycopg.types.json import Jsonb
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

log = logging.getLogger("ingest_instagram")

DEFAULT_TOKEN_LIFETIME = timedelta(days=60)
REFRESH_WHEN_LEFT = 0.10  # refresh when less than this share of the lifetime remains
DEFAULT_THROTTLE_WAIT = timedelta(hours=1)  # when Meta throttles an account without saying for how long
MEDIA_FIELDS = "id,caption,media_type,media_url,permalink,timestamp"
MEDIA_PAGE_SIZE = 50
PINNED_POSTS_MAX = 3  # Instagram lets an account pin up to three posts atop its grid
LOCK_CLASS = 727_001  # advisory-lock namespace of this tool (first key of every lock)
START_LOCK = 0  # second key: serialises the start of concurrent runs


# ---------------------------------------------------------------------------
# Errors
# ---------------------------------------------------------------------------


class IngestError(Exception):
    """An expected failure that ends the whole run: printed as one line, exit status 2."""

    exit_status = 2


class ConfigError(IngestError):
    """A missing or malformed environment variable."""


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
    def token_dead(self) -> bool:
        return self.code in DEAD_TOKEN_CODES

    @property
    def refresh_may_help(self) -> bool:
        """A 190 that does not say the session is over (expired, password changed, app removed)."""
        return self.code == 190 and self.subcode not in UNREFRESHABLE_SUBCODES

    def action(self) -> str:
        """What a person has to do about it, for the log line and the stored error."""
        if self.token_dead:
            return "a club admin must log in again and re-link the account with a new token (add-account)"
        if self.code == 10 or (self.code is not None and 200 <= self.code <= 299):
            return "a permission is missing or was removed: the account must grant the app access again"
        if self.code == 100:
            return "Meta rejects a parameter: check the account's ig_user_id"
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


class AppThrottled(Exception):
    """Meta throttles the whole app: the batch stops, the remaining accounts wait for the next run."""


# ---------------------------------------------------------------------------
# Redaction: every log line, stored error and summary passes through redact()
# ---------------------------------------------------------------------------

_SECRET_PARAM = re.compile(  # in a query string, URL-encoded inside another URL, or in JSON
    r"(?i)(access_token|client_secret|fb_exchange_token|appsecret_proof|input_token)"
    r"(=|%3D|\"?\s*:\s*\"?)((?:(?!%26)[^&\s'\"<>,}])+)"
)
_URL_PASSWORD = re.compile(r"(?i)\b(postgres(?:ql)?://[^:/@\s]*:)([^@\s]+)(@)")
_secrets: set[str] = set()


def remember_secret(value: str | None) -> None:
    """Register a token, secret or password so that redact() hides it wherever it shows."""
    if value and len(value) >= 6:
        _secrets.add(value)


def redact(text: str) -> str:
    """Hide every known secret, and anything that looks like a token parameter, in text."""
    text = _SECRET_PARAM.sub(lambda m: f"{m.group(1)}{m.group(2)}[REDACTED]", text)
    text = _URL_PASSWORD.sub(r"\1[REDACTED]\3", text)
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


def _env_number(env: dict[str, str], name: str, default: str, kind: type, minimum: float) -> Any:
    raw = (env.get(name) or default).strip()
    try:
        value = kind(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {raw!r}")
    return value


def _env_base_url(env: dict[str, str], name: str, default: str) -> str:
    url = (env.get(name) or default).strip().rstrip("/")
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ConfigError(f"{name} must be an http(s) URL such as {default}, got {url!r}")
    return url


def load_config(env: dict[str, str] | None = None) -> Config:
    """Read and check every setting; a bad value raises ConfigError naming the variable."""
    env = dict(os.environ if env is None else env)
    database_url = (env.get("DATABASE_URL") or "").strip()
    if not database_url:
        raise ConfigError("DATABASE_URL is not set: put the Postgres connection string in the environment or .env")
    if not database_url.startswith(("postgres://", "postgresql://")) and "=" not in database_url:
        raise ConfigError("DATABASE_URL must look like postgresql://user:password@host:5432/dbname")
    version = (env.get("GRAPH_API_VERSION") or "v25.0").strip()
    if not re.fullmatch(r"v\d+\.\d+", version):
        raise ConfigError(f"GRAPH_API_VERSION must look like v25.0, got {version!r}")
    backfill = (env.get("INITIAL_BACKFILL_DAYS") or "").strip()
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
        usage_threshold=_env_number(env, "USAGE_THRESHOLD", "80", int, 1),
        initial_backfill_days=_env_number(env, "INITIAL_BACKFILL_DAYS", backfill, int, 1) if backfill else None,
    )
    remember_secret(config.app_secret)
    remember_secret(psycopg.conninfo.conninfo_to_dict(database_url).get("password"))
    return config


# ---------------------------------------------------------------------------
# HTTP: the one place that sends Graph API requests
# ---------------------------------------------------------------------------


class _BudgetedRetry(Retry):
    """urllib3's Retry, which also charges each retry to the run's request budget."""

    def __init__(self, *args: Any, on_retry: Any = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.on_retry = on_retry

    def new(self, **kwargs: Any) -> _BudgetedRetry:
        retry = super().new(**kwargs)
        retry.on_retry = self.on_retry
        return retry

    def increment(self, *args: Any, **kwargs: Any) -> Retry:
        retry = super().increment(*args, **kwargs)  # raises when no retry is left
        if self.on_retry:
            self.on_retry()
        return retry


@dataclass(frozen=True)
class Usage:
    """Rate-limit usage Meta reports in the headers of an answer, in percent of the limit."""

    app_pct: int = 0  # X-App-Usage: the whole app
    account_pct: int = 0  # X-Business-Use-Case-Usage: the account asked about
    regain: timedelta = timedelta(0)  # estimated_time_to_regain_access (Meta gives minutes)


def _usage_pct(entry: Any) -> int:
    if not isinstance(entry, dict):
        return 0
    return max(_int_or_none(entry.get(key)) or 0 for key in ("call_count", "total_cputime", "total_time"))


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
        retry = _BudgetedRetry(
            total=config.http_retries,
            status_forcelist=(500, 502, 503, 504),
            allowed_methods=frozenset({"GET"}),
            backoff_factor=config.retry_backoff,
            backoff_jitter=config.retry_backoff,
            raise_on_status=False,
            respect_retry_after_header=False,
            on_retry=self._spend,
        )
        self.session = requests.Session()
        self.session.mount("http://", HTTPAdapter(max_retries=retry))
        self.session.mount("https://", HTTPAdapter(max_retries=retry))

    def _spend(self) -> None:
        if self.requests_made >= self.config.max_requests_per_run:
            raise BudgetExhausted(f"MAX_REQUESTS_PER_RUN={self.config.max_requests_per_run} reached")
        self.requests_made += 1

    def get(self, url: str, params: dict[str, str]) -> dict[str, Any]:
        """GET url with params; return the JSON object Meta answered, or raise GraphAPIError."""
        self._spend()
        timeout = self.config.http_timeout
        try:
            response = self.session.get(url, params=params, timeout=(timeout, timeout), allow_redirects=False)
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
        kind = response.headers.get("Content-Type", "no content type").split(";")[0]
        what = "too many requests" if status == 429 else f"answer is not JSON ({kind})"
        raise GraphAPIError(what, status=status, transient=status >= 500, retry_after=retry_after) from None
    error = body.get("error") if isinstance(body, dict) else None
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
    """

    after: str | None
    until: datetime | None

    def to_json(self) -> dict[str, str | None]:
        return {"after": self.after, "until": self.until.isoformat() if self.until else None}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Walk:
        until = data.get("until")
        return cls(after=data.get("after"), until=datetime.fromisoformat(until) if until else None)


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


def parse_timestamp(value: str) -> datetime:
    """Parse Meta's '2025-09-27T07:19:10+0000', which fromisoformat rejects before Python 3.11."""
    return datetime.strptime(value, "%Y-%m-%dT%H:%M:%S%z")


def _clean_text(value: Any) -> str | None:
    """Postgres text cannot hold NUL characters: drop them; keep None for a missing field."""
    if value is None:
        return None
    return str(value).replace("\x00", "")


def parse_post(item: Any) -> Post:
    """Turn one element of a /media page into a Post; a malformed one raises GraphAPIError."""
    if not isinstance(item, dict) or not item.get("id") or not isinstance(item.get("timestamp"), str):
        raise GraphAPIError("malformed post in /media answer: it lacks an id or a timestamp")
    try:
        timestamp = parse_timestamp(item["timestamp"])
    except ValueError:
        raise GraphAPIError(f"post {item['id']} has an unreadable timestamp {item['timestamp']!r}") from None
    return Post(
        media_id=str(item["id"]),
        caption=_clean_text(item.get("caption")),
        media_type=_clean_text(item.get("media_type")),
        media_url=_clean_text(item.get("media_url")),
        permalink=_clean_text(item.get("permalink")),
        timestamp=timestamp,
    )


@dataclass
class MediaPage:
    """One page of /media: its posts and the cursor to the next page (None on the last one)."""

    posts: list[Post]
    next_after: str | None


def parse_media_page(body: dict[str, Any], base_url: str) -> MediaPage:
    """Check a /media answer's shape and find where the next page starts."""
    data = body.get("data")
    if not isinstance(data, list):
        raise GraphAPIError("/media answer has no 'data' list")
    posts = [parse_post(item) for item in data]
    paging = body.get("paging") if isinstance(body.get("paging"), dict) else {}
    next_url = paging.get("next")
    if not next_url:
        return MediaPage(posts, None)
    if not isinstance(next_url, str) or not _same_origin(next_url, base_url):
        host = urlsplit(str(next_url)).hostname
        raise GraphAPIError(f"refused paging.next pointing to another host ({host}); the token stays here")
    cursors = paging.get("cursors") if isinstance(paging.get("cursors"), dict) else {}
    after = cursors.get("after") or dict(parse_qsl(urlsplit(next_url).query)).get("after")
    if not after:
        raise GraphAPIError("/media answer has paging.next but no 'after' cursor")
    return MediaPage(posts, str(after))


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
    """GET {host}/{version}/{ig_user_id}/media, from the top or from cursor ``after``."""
    base = _base_url(api.config, account)
    url = f"{base}/{api.config.api_version}/{account.ig_user_id}/media"
    params = {"fields": MEDIA_FIELDS, "limit": str(MEDIA_PAGE_SIZE), **_auth_params(api.config, account)}
    if after:
        params["after"] = after
    return parse_media_page(api.get(url, params), base)


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
    body = api.get(url, params)
    token = body.get("access_token")
    if not isinstance(token, str) or not token:
        raise GraphAPIError("token refresh answer has no access_token")
    remember_secret(token)
    expires_in = _int_or_none(body.get("expires_in"))
    return token, timedelta(seconds=expires_in) if expires_in else DEFAULT_TOKEN_LIFETIME


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
CREATE INDEX IF NOT EXISTS instagram_accounts_ig_user_id_idx ON instagram_accounts (ig_user_id);
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
    ADD COLUMN IF NOT EXISTS updated_at timestamptz NOT NULL DEFAULT now();
CREATE INDEX IF NOT EXISTS instagram_posts_media_id_idx ON instagram_posts (media_id);
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
    highest_usage_pct  integer NOT NULL DEFAULT 0,
    errors             jsonb NOT NULL DEFAULT '[]'
);
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
"""
SCHEMA_LAST_OBJECT = "instagram_sync_runs_started_idx"  # keep it the last statement of SCHEMA


def connect(config: Config, *, autocommit: bool = True) -> psycopg.Connection:
    """Open an autocommit connection; transactions are explicit where rows must go together.

    Prepared statements are off so that PgBouncer-style transaction poolers (Supabase's
    port 6543) work."""
    try:
        return psycopg.connect(
            config.database_url,
            autocommit=autocommit,
            prepare_threshold=None,
            connect_timeout=15,
            application_name="ingest_instagram",
        )
    except psycopg.Error as exc:
        raise DatabaseError(f"cannot connect to the database: {_one_line(exc)}") from None


def ensure_schema(conn: psycopg.Connection) -> None:
    """Create or complete the tables and indexes; an advisory lock lets two processes do it at once.

    The DDL runs in one transaction, so its last index existing means all of it does: then it
    is skipped, sparing every run the table locks ALTER TABLE takes even when it changes nothing."""
    if conn.execute("SELECT to_regclass(%s)", (SCHEMA_LAST_OBJECT,)).fetchone()[0]:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, START_LOCK))
        conn.execute(SCHEMA)


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
            self.holder.execute("SELECT pg_advisory_xact_lock(%s, %s)", (LOCK_CLASS, self.run_id))
            conn.execute(
                """UPDATE instagram_sync_runs SET finished_at = clock_timestamp(), outcome = 'abandoned'
                   WHERE finished_at IS NULL AND id <> %(me)s AND id NOT IN (
                       SELECT objid::bigint FROM pg_locks
                       WHERE locktype = 'advisory' AND classid = %(class)s AND objsubid = 2 AND granted)""",
                {"me": self.run_id, "class": LOCK_CLASS},
            )
            self.round_started_at: datetime = conn.execute(
                "SELECT min(started_at) FROM instagram_sync_runs WHERE finished_at IS NULL"
            ).fetchone()[0]

    def finish(self, summary: dict[str, Any], errors: list[dict[str, str]]) -> None:
        self.conn.execute(
            """UPDATE instagram_sync_runs SET finished_at = clock_timestamp(), outcome = %(outcome)s,
                   accounts_processed = %(accounts_processed)s, accounts_failed = %(accounts_failed)s,
                   accounts_skipped = %(accounts_skipped)s, posts_inserted = %(posts_inserted)s,
                   posts_updated = %(posts_updated)s, requests_made = %(requests_made)s,
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
    a.token_issued_at, a.last_synced_at, a.pending_walks"""

# An account is due in this round unless it was checked in it, Meta asked us to wait, or its token
# was found dead and nobody has replaced it yet (the hash tells a new token from the dead one).
_UNCHECKED = "(last_checked_at IS NULL OR last_checked_at < %(round)s) AND (%(only)s::int IS NULL OR id = %(only)s)"
_DEAD_TOKEN = "status = 'needs_reauth' AND dead_token_sha256 = encode(sha256(convert_to(access_token, 'UTF8')), 'hex')"
_DUE = f"{_UNCHECKED} AND (throttled_until IS NULL OR throttled_until <= clock_timestamp()) AND NOT ({_DEAD_TOKEN})"


def _account_from_row(row: tuple[Any, ...]) -> Account:
    account = Account(*row[:7], pending_walks=[Walk.from_json(w) for w in row[7] or []])
    remember_secret(account.access_token)
    return account


def claim_next_account(
    conn: psycopg.Connection, round_started_at: datetime, only: int | None = None
) -> tuple[Account, datetime | None] | None:
    """Take the next due account of this round: lowest priority number first, then the one checked
    longest ago. Marking it checked in the same statement keeps concurrent runs off it."""
    row = conn.execute(
        f"""WITH next AS (
                SELECT id, last_checked_at FROM instagram_accounts WHERE {_DUE}
                ORDER BY coalesce(priority, 2), last_checked_at NULLS FIRST, id
                LIMIT 1 FOR UPDATE SKIP LOCKED)
            UPDATE instagram_accounts a SET last_checked_at = clock_timestamp()
            FROM next WHERE a.id = next.id
            RETURNING {_ACCOUNT_COLUMNS}, next.last_checked_at""",
        {"round": round_started_at, "only": only},
    ).fetchone()
    if row is None:
        return None
    return _account_from_row(row[:-1]), row[-1]


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


def count_unchecked_accounts(conn: psycopg.Connection, round_started_at: datetime, only: int | None = None) -> int:
    """Accounts this round has not synced: left out by the budget, throttled, or awaiting a new token."""
    return conn.execute(
        f"SELECT count(*) FROM instagram_accounts WHERE {_UNCHECKED}", {"round": round_started_at, "only": only}
    ).fetchone()[0]


def accounts_awaiting_token(conn: psycopg.Connection, round_started_at: datetime) -> list[tuple[str, datetime]]:
    return conn.execute(
        f"""SELECT account_name, last_error_at FROM instagram_accounts
            WHERE {_DEAD_TOKEN} AND (last_checked_at IS NULL OR last_checked_at < %(round)s) ORDER BY id""",
        {"round": round_started_at},
    ).fetchall()


def save_token(conn: psycopg.Connection, account: Account, token: str, expires_at: datetime) -> None:
    """Store the new token and its expiry in one statement, before the token is used."""
    conn.execute(
        """UPDATE instagram_accounts SET access_token = %s, token_expires_at = %s,
               token_issued_at = clock_timestamp(), updated_at = now()
           WHERE id = %s""",
        (token, expires_at, account.id),
    )


_SAVE_PAGE = """
WITH page AS (
    SELECT * FROM unnest(%(media_id)s::text[], %(caption)s::text[], %(media_type)s::text[],
                         %(media_url)s::text[], %(permalink)s::text[], %(timestamp)s::timestamptz[])
        AS p(media_id, caption, media_type, media_url, permalink, "timestamp")
), upserted AS (
    INSERT INTO instagram_posts AS old (media_id, ig_user_id, caption, media_type, media_url, permalink, "timestamp")
    SELECT media_id, %(ig_user_id)s, caption, media_type, media_url, permalink, "timestamp" FROM page
    ON CONFLICT (media_id) DO UPDATE
        SET caption = EXCLUDED.caption, media_type = EXCLUDED.media_type, media_url = EXCLUDED.media_url,
            permalink = EXCLUDED.permalink, updated_at = now()
        WHERE (old.caption, old.media_type, old.media_url, old.permalink)
              IS DISTINCT FROM (EXCLUDED.caption, EXCLUDED.media_type, EXCLUDED.media_url, EXCLUDED.permalink)
    RETURNING (xmax = 0) AS inserted
), account AS (
    UPDATE instagram_accounts
    SET last_synced_at = greatest(last_synced_at, (SELECT max("timestamp") FROM page)),
        pending_walks = %(walks)s, updated_at = now()
    WHERE id = %(account_id)s
)
SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM upserted
"""


def save_page(conn: psycopg.Connection, account: Account, posts: list[Post], walks: list[Walk]) -> tuple[int, int]:
    """Upsert a page's posts and move the account's watermark and walks, as one statement: one
    round trip, and atomic, so a crash never leaves last_synced_at ahead of the posts stored.
    Returns (inserted, updated); a post counts as updated only when a field really changed."""
    unique = {post.media_id: post for post in posts}  # ON CONFLICT cannot touch a row twice
    rows = list(unique.values())
    inserted, updated = conn.execute(
        _SAVE_PAGE,
        {
            "media_id": [p.media_id for p in rows],
            "caption": [p.caption for p in rows],
            "media_type": [p.media_type for p in rows],
            "media_url": [p.media_url for p in rows],
            "permalink": [p.permalink for p in rows],
            "timestamp": [p.timestamp for p in rows],
            "ig_user_id": account.ig_user_id,
            "walks": Jsonb([w.to_json() for w in walks]),
            "account_id": account.id,
        },
    ).fetchone()
    if rows:
        newest = max(p.timestamp for p in rows)
        account.last_synced_at = max(account.last_synced_at or newest, newest)
    account.pending_walks = list(walks)
    return inserted, updated


def record_success(conn: psycopg.Connection, account: Account) -> None:
    """A clean sync clears the last error and any mark left by an earlier failure."""
    conn.execute(
        """UPDATE instagram_accounts SET last_error = NULL, status = 'active', dead_token_sha256 = NULL,
               throttled_until = NULL
           WHERE id = %s""",
        (account.id,),
    )


def record_failure(conn: psycopg.Connection, account: Account, message: str, *, token_dead: bool = False) -> None:
    """Keep the (redacted) error on the account for people to read; a dead token also marks the
    account as needing re-authorisation, which later runs skip until its token is replaced."""
    conn.execute(
        """UPDATE instagram_accounts SET last_error = %(message)s, last_error_at = now(),
               status = CASE WHEN %(dead)s THEN 'needs_reauth' ELSE status END,
               dead_token_sha256 = CASE WHEN %(dead)s
                   THEN encode(sha256(convert_to(access_token, 'UTF8')), 'hex') ELSE dead_token_sha256 END
           WHERE id = %(id)s""",
        {"message": message, "dead": token_dead, "id": account.id},
    )


# ---------------------------------------------------------------------------
# The design's three functions
# ---------------------------------------------------------------------------


@dataclass
class Sync:
    """What the three functions share during one run: connection, client, settings, counters."""

    conn: psycopg.Connection
    api: GraphClient
    config: Config
    tokens_refreshed: int = 0
    posts_inserted: int = 0
    posts_updated: int = 0

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
    token, lifetime = request_token_refresh(sync.api, account)
    expires_at = datetime.now(timezone.utc) + lifetime
    save_token(sync.conn, account, token, expires_at)
    account.access_token, account.token_expires_at, account.token_issued_at = token, expires_at, now
    sync.tokens_refreshed += 1
    log.info("Refreshed token for %s; it now expires %s", account.account_name, expires_at.strftime("%Y-%m-%d"))
    return True


def _walk_reached_end(page: MediaPage, walk: Walk) -> bool:
    """True when this page finishes the walk: the list ends here, or it reached a post older
    than the walk's limit. On the top page the first three posts may be pinned old posts, so
    they alone never end a walk."""
    if page.next_after is None:
        return True
    if walk.until is None:
        return False
    candidates = page.posts[PINNED_POSTS_MAX:] if walk.after is None else page.posts
    return any(post.timestamp < walk.until for post in candidates)


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


def fetch_new_posts(account: Account, sync: Sync) -> tuple[int, int]:
    """Store the posts published since the last sync, then continue unfinished history walks.

    Returns (inserted, updated). Each page is written with the account's new state in one
    statement, so an interrupted run resumes where it stopped, losing nothing."""
    horizon = _horizon(sync.config)
    walks = [Walk(after=None, until=account.last_synced_at or horizon), *account.pending_walks]
    inserted = updated = pages = 0
    while walks and pages < sync.page_limit():
        walk = walks[0]
        try:
            page = fetch_media_page(sync.api, account, walk.after)
        except BudgetExhausted:
            if not pages:
                raise  # nothing fetched: the account is skipped and goes first next run
            log.warning("%s: request budget used up; its walk resumes next run", account.account_name)
            break
        pages += 1
        if _walk_reached_end(page, walk):
            walks.pop(0)
        else:
            walks[0] = Walk(after=page.next_after, until=walk.until)
        posts = [p for p in page.posts if horizon is None or p.timestamp >= horizon]
        page_inserted, page_updated = save_page(sync.conn, account, posts, walks)
        inserted += page_inserted
        updated += page_updated
        if _account_near_limit(account, sync):
            break
    sync.posts_inserted += inserted
    sync.posts_updated += updated
    left = " (older posts left for the next run)" if walks else ""
    log.info(
        "Inserted %d new posts for %s, updated %d, %d page(s)%s", inserted, account.account_name, updated, pages, left
    )
    return inserted, updated


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
    config = config or load_config()
    conn = connect(config)
    try:
        ensure_schema(conn)
        presence = RunPresence(conn, config)
        try:
            summary, errors = _run_accounts(conn, config, presence.round_started_at)
            presence.finish(summary, errors)
        finally:
            presence.close()
        return summary
    except (psycopg.OperationalError, psycopg.InterfaceError) as exc:
        raise DatabaseError(f"database connection lost: {_one_line(exc)}") from None
    finally:
        conn.close()


@dataclass
class _Tally:
    """How the accounts of one run ended."""

    processed: int = 0
    failed: int = 0
    errors: list[dict[str, str]] = field(default_factory=list)
    stop_reason: str | None = None

    def fail(self, conn: psycopg.Connection, account: Account, message: str, *, token_dead: bool = False) -> None:
        record_failure(conn, account, message, token_dead=token_dead)
        self.errors.append({"account": account.account_name, "error": message})
        self.failed += 1


def _stop_reason(sync: Sync, tally: _Tally) -> str | None:
    """Why no further account should be started this run, if there is a reason."""
    if tally.stop_reason:
        return tally.stop_reason
    if sync.api.requests_made >= sync.config.max_requests_per_run:
        return f"the request budget of {sync.config.max_requests_per_run} is used up"
    if sync.api.usage.app_pct >= 100:
        return f"Meta reports {sync.api.usage.app_pct}% of the app's rate limit used (X-App-Usage)"
    return None


def _sync_claimed(account: Account, previous_checked_at: datetime | None, sync: Sync, tally: _Tally) -> None:
    """Sync one claimed account and file its outcome; only a lost database ends the run from here."""
    conn, name = sync.conn, account.account_name
    try:
        _sync_account(account, sync)
    except BudgetExhausted:  # no page fetched: counted with the unchecked accounts at the end
        release_account(conn, account, previous_checked_at)
    except GraphAPIError as exc:
        message = redact(f"{exc}; {exc.action()}" if exc.action() else str(exc))
        if exc.throttles_app:
            release_account(conn, account, previous_checked_at)
            tally.stop_reason = f"Meta throttles the whole app ({message})"
        elif exc.throttles_account:
            until = datetime.now(timezone.utc) + (exc.retry_after or DEFAULT_THROTTLE_WAIT)
            release_account(conn, account, previous_checked_at, wait_until=until)
            log.warning("%s: rate-limited by Meta (%s); skipped until %s", name, message, until.strftime("%H:%M UTC"))
        else:
            log.error("%s: %s", name, message)
            tally.fail(conn, account, message, token_dead=exc.token_dead)
    except AccountError as exc:
        log.error("%s: %s", name, redact(str(exc)))
        tally.fail(conn, account, redact(str(exc)))
    except (psycopg.OperationalError, psycopg.InterfaceError):
        raise
    except Exception as exc:  # a bug or an unforeseen answer must not stop the other accounts
        message = redact(f"unexpected {type(exc).__name__}: {exc}")
        log.exception("%s: %s", name, message)
        tally.fail(conn, account, message)
    else:
        record_success(conn, account)
        tally.processed += 1


def _run_accounts(
    conn: psycopg.Connection, config: Config, round_started_at: datetime, only: int | None = None
) -> tuple[dict[str, Any], list[dict[str, str]]]:
    sync = Sync(conn, GraphClient(config), config)
    tally = _Tally()
    started = 0
    while (reason := _stop_reason(sync, tally)) is None:
        claim = claim_next_account(conn, round_started_at, only)
        if claim is None:
            break
        if started:
            time.sleep(config.sleep_between_accounts)
        started += 1
        _sync_claimed(*claim, sync, tally)
    if reason:
        log.warning("Stopping the batch: %s; the remaining accounts go first next run", reason)
    for name, since in accounts_awaiting_token(conn, round_started_at):
        log.warning("%s: skipped, its token is dead (since %s); re-link it with add-account", name, f"{since:%Y-%m-%d}")
    summary = {
        "success": tally.failed == 0,
        "accounts_processed": tally.processed,
        "accounts_failed": tally.failed,
        "accounts_skipped": count_unchecked_accounts(conn, round_started_at, only),
        "posts_inserted": sync.posts_inserted,
        "posts_updated": sync.posts_updated,
        "requests_made": sync.api.requests_made,
        "tokens_refreshed": sync.tokens_refreshed,
        "highest_usage_pct": sync.api.highest_usage_pct,
        "timestamp": datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    log.info(
        "Processed %d accounts (%d failed, %d skipped), made %d API requests, inserted %d new posts, updated %d",
        tally.processed,
        tally.failed,
        summary["accounts_skipped"],
        sync.api.requests_made,
        sync.posts_inserted,
        sync.posts_updated,
    )
    return summary, tally.errors


# ---------------------------------------------------------------------------
# Command line
# ---------------------------------------------------------------------------


def _setup_logging() -> None:
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(_RedactingFormatter("%(asctime)s %(levelname)s %(message)s", "%Y-%m-%dT%H:%M:%S"))
    log.handlers[:] = [handler]
    log.setLevel(logging.INFO)
    log.propagate = False


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ingest_instagram.py",
        description="Sync the posts of linked Instagram accounts into Postgres (one batch per invocation).",
    )
    commands = parser.add_subparsers(dest="command")
    commands.add_parser("run", help="run one batch over all accounts (the default)", description=run_batch.__doc__)
    return parser


def _command_run(args: argparse.Namespace, config: Config) -> int:
    summary = run_batch(config)
    print(redact(json.dumps(summary)), flush=True)
    return 0 if summary["success"] else 1


def _redacted_excepthook(kind: type[BaseException], exc: BaseException, tb: Any) -> None:
    """A bug keeps its traceback, but the traceback passes through redact() like everything else."""
    import traceback

    sys.stderr.write(redact("".join(traceback.format_exception(kind, exc, tb))))


def main(argv: list[str] | None = None) -> int:
    """Run the command named on the command line; return the exit status."""
    args = _parser().parse_args(argv)
    _setup_logging()
    sys.excepthook = _redacted_excepthook
    from dotenv import load_dotenv  # here, not at import: a developer's .env must never change a test

    load_dotenv(os.path.join(os.getcwd(), ".env"))
    try:
        return _command_run(args, load_config())
    except IngestError as exc:
        log.error("%s", exc)
        return exc.exit_status


if __name__ == "__main__":
    sys.exit(main())
