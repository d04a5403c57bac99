"""A fake of Meta's Graph API, served over real HTTP on 127.0.0.1.

It answers the way Meta documents and, where answers were recorded from the real API, the way
those show: two hosts (graph.instagram.com takes only Instagram-login tokens, IG…;
graph.facebook.com only Facebook-login ones, EAA…), versioned ``/{version}/{ig-user-id}/media``
pages with unpadded opaque cursors, an absolute ``paging.next`` that carries the token and a
``paging.previous`` beside it (alone on the last page), ``id`` last in every post, errors in Meta's
envelope with Meta's HTTP statuses and codes (``IGApiException`` for codes 100 and 2500 on
graph.instagram.com, ``WWW-Authenticate`` beside a 190), usage headers as each host spells them
(graph.instagram.com: ``X-App-Usage: {"call_volume", "cpu_time"}`` only; graph.facebook.com:
``X-App-Usage: {"call_count", "total_cputime", "total_time"}`` and ``X-Business-Use-Case-Usage``),
token refresh and exchange endpoints, and api.instagram.com's login with its flat answers.
Tests, the benchmark and a person trying the tool all use it:

    python -m tests.fake_graph --accounts 5 --posts 120
"""

from __future__ import annotations

import argparse
import base64
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

DEFAULT_LIMIT = 25  # Meta's page size when no limit is asked for
MAX_LIMIT = 100
TOKEN_LIFETIME = timedelta(days=60)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def meta_time(moment: datetime) -> str:
    """Meta's timestamp format: 2025-09-27T07:19:10+0000."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%S+0000")


@dataclass
class FakePost:
    id: str
    timestamp: datetime
    caption: str | None = None
    media_type: str = "IMAGE"
    permalink: str = ""
    has_media_url: bool = True  # Meta omits media_url for media with copyrighted music
    alt_text: str | None = None  # the custom alt text a club wrote (Meta leaves the field out where there is none)
    extra: dict[str, Any] = field(default_factory=dict)  # raw fields that override the rest


BASIC = "instagram_business_basic"


@dataclass
class Token:
    value: str
    issued_at: datetime
    expires_at: datetime
    short_lived: bool = False  # what the Instagram login hands out first: one hour, to be exchanged
    permissions: tuple[str, ...] = (BASIC,)  # what the admin left ticked when approving


@dataclass
class Fault:
    """One scripted misbehaviour, used up by the next matching request."""

    kind: str  # error | slow | drop | html | not_json | body | foreign_next | hold | redirect
    endpoint: str = "media"  # media | refresh
    options: dict[str, Any] = field(default_factory=dict)


@dataclass
class FakeAccount:
    ig_user_id: str
    username: str
    tokens: dict[str, Token]
    posts: list[FakePost]  # newest first, as /media lists them
    pinned: list[str] = field(default_factory=list)
    faults: list[Fault] = field(default_factory=list)
    app_scoped_id: str = ""
    account_type: str = "BUSINESS"  # BUSINESS, MEDIA_CREATOR, or PERSONAL (which business login cannot link)
    app_role: bool = True  # a tester of the app: while the app is in development, only they can link
    usage: dict[str, int] = field(
        default_factory=lambda: {
            "call_count": 1,
            "total_cputime": 1,
            "total_time": 1,
            "estimated_time_to_regain_access": 0,
        }
    )  # this account's X-Business-Use-Case-Usage entry

    @property
    def token(self) -> str:
        """The newest token Meta issued for this account."""
        return max(self.tokens.values(), key=lambda t: t.issued_at).value

    def grid(self) -> list[FakePost]:
        """/media order: pinned posts first, then the rest, newest first."""
        pinned = [p for pid in self.pinned for p in self.posts if p.id == pid]
        return pinned + [p for p in self.posts if p.id not in self.pinned]


@dataclass
class Code:
    """An authorization code of Instagram's login: issued once, for one redirect URI, for an hour."""

    account: FakeAccount
    redirect_uri: str
    permissions: list[str]
    issued_at: datetime
    used: bool = False


@dataclass
class Request:
    """A request the fake received, for tests to assert on."""

    host: str  # instagram | facebook | api
    path: str
    params: dict[str, str]  # the query, or a POST's form
    method: str = "GET"


class LoginError(Exception):
    """api.instagram.com's refusal: HTTP 400 and {"error_type", "code", "error_message"}."""

    def envelope(self) -> dict[str, Any]:
        return {"error_type": "OAuthException", "code": 400, "error_message": str(self)}


class GraphError(Exception):
    """A Graph API error. Its ``type`` is the host's unless given: graph.instagram.com answers
    IGApiException for codes 100 and 2500 (recorded), OAuthException otherwise."""

    def __init__(self, status: int, message: str, code: int, subcode: int | None = None, kind: str | None = None):
        super().__init__(message)
        self.status, self.message, self.code, self.subcode, self.kind = status, message, code, subcode, kind

    def envelope(self, host: str = "facebook") -> dict[str, Any]:
        kind = self.kind or ("IGApiException" if host == "instagram" and self.code in (100, 2500) else "OAuthException")
        error: dict[str, Any] = {"message": self.message, "type": kind, "code": self.code}
        if self.subcode is not None:
            error["error_subcode"] = self.subcode
        error["fbtrace_id"] = "A" + secrets.token_urlsafe(15)
        return {"error": error}

    def headers(self) -> dict[str, str]:
        """Meta puts a refused token in a WWW-Authenticate header as well (recorded with every 190)."""
        if self.code != 190:
            return {}
        return {"WWW-Authenticate": f'OAuth "Facebook Platform" "invalid_token" "{self.message}"'}


def _encode_cursor(media_id: str) -> str:
    return base64.urlsafe_b64encode(f"media:{media_id}".encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
    except ValueError:
        raw = ""
    if not raw.startswith("media:"):
        raise GraphError(400, "Invalid parameter: the cursor is not valid", 100)
    return raw[len("media:") :]


class FakeGraph:
    """The shared state of both fake hosts, and the knobs tests turn."""

    def __init__(self, app_id: str = "1234567890", app_secret: str | None = None) -> None:
        app_secret = app_secret or f"APPSECRET{secrets.token_hex(12)}"
        self.app_id, self.app_secret = app_id, app_secret
        self.accounts: dict[str, FakeAccount] = {}
        self.requests: list[Request] = []
        self.latency = 0.0  # seconds added to every answer
        self.app_usage = {"call_count": 1, "total_cputime": 1, "total_time": 1}  # graph.facebook.com's spelling
        self.instagram_usage: dict[str, int] | None = {"call_volume": 1, "cpu_time": 1}  # None: no header at all
        self.omit_expires_in = False  # Facebook's exchange answer may lack expires_in
        self.wrap_me = False  # /me answers {"data": [{...}]} instead of a flat object
        self.cdn_epoch = 0  # bump to make every media_url change, as Meta's signed CDN links do
        self.redirect_uri = "https://connect3.example/instagram/linked/"  # as registered in the App Dashboard
        self.codes: dict[str, Code] = {}
        self.declines = False  # the admin presses "Cancel" in the login window
        self.granted: list[str] | None = None  # permissions the admin leaves ticked (None: all asked for)
        self.wrapped_code_answer = False  # the code exchange's answer in {"data": [...]}, as once documented
        self.lists_permissions = False  # the code exchange names the permissions granted (it mostly does not)
        self.refused_fields: dict[str, set[str]] = {}  # host -> media fields it answers "nonexisting field" to
        self.code_refusal: str | None = None  # api.instagram.com refuses the next code exchange in these words
        self.api_down = False  # api.instagram.com answers 503 to every POST
        self.released = threading.Event()  # opens "hold" faults
        self.meeting: threading.Barrier | None = None  # see meet()
        self.held = threading.Event()  # set when a request is being held
        self._lock = threading.Lock()
        self._servers: dict[str, ThreadingHTTPServer] = {}
        self._next_id = 17_900_000_000_000_000

    # -- lifecycle ---------------------------------------------------------

    def start(self) -> FakeGraph:
        for host in ("instagram", "facebook", "api"):
            server = ThreadingHTTPServer(("127.0.0.1", 0), _make_handler(self, host))
            server.daemon_threads = True
            threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True).start()
            self._servers[host] = server
        return self

    def stop(self) -> None:
        """Stop the hosts together: each takes up to a poll interval to notice."""
        self.released.set()
        stoppers = [threading.Thread(target=server.shutdown) for server in self._servers.values()]
        for stopper in stoppers:
            stopper.start()
        for stopper in stoppers:
            stopper.join()
        for server in self._servers.values():
            server.server_close()

    def url(self, host: str) -> str:
        address = self._servers[host].server_address
        return f"http://{address[0]}:{address[1]}"

    @property
    def instagram_url(self) -> str:
        return self.url("instagram")

    @property
    def facebook_url(self) -> str:
        return self.url("facebook")

    @property
    def api_url(self) -> str:
        """api.instagram.com: the login window (/oauth/authorize) and the code exchange."""
        return self.url("api")

    # -- Instagram's login ---------------------------------------------------

    def approve(self, account: FakeAccount, *, redirect_uri: str | None = None,
                permissions: list[str] | None = None) -> str:  # fmt: skip
        """The account's admin approves the app: a code bound to the redirect URI, as Meta issues it."""
        code = "AQ" + secrets.token_urlsafe(40)
        granted = [BASIC] if permissions is None else permissions
        self.codes[code] = Code(account, redirect_uri or self.redirect_uri, granted, _now())
        return code

    def redirect_address(self, account: FakeAccount, state: str | None = None) -> str:
        """The address the admin's browser lands on after approving, Instagram's '#_' included."""
        query = {"code": self.approve(account), **({"state": state} if state else {})}
        return f"{self.redirect_uri}?{urlencode(query)}#_"

    def authorize(self, params: dict[str, str]) -> str:
        """GET /oauth/authorize: the login window, approved at once by the admin logged in (the
        ``login`` parameter names a fake club; else the first one). Returns where it redirects."""
        redirect_uri = params.get("redirect_uri", "")
        if params.get("client_id") != self.app_id:
            raise GraphError(400, "Invalid platform app", 1)
        if redirect_uri != self.redirect_uri:
            raise GraphError(400, "Invalid redirect_uri: it does not match the one registered for the app", 1)
        if params.get("response_type") != "code" or "instagram_business_basic" not in params.get("scope", ""):
            raise GraphError(400, "Invalid scope or response_type", 1)
        login = params.get("login")
        account = next((a for a in self.accounts.values() if login in (None, a.username)), None)
        state = {"state": params["state"]} if params.get("state") else {}
        if account is None or self.declines:
            query = {"error": "access_denied", "error_reason": "user_denied",
                     "error_description": "The user denied your request.", **state}  # fmt: skip
            return f"{redirect_uri}?{urlencode(query)}#_"
        code = self.approve(account, permissions=self.granted)
        return f"{redirect_uri}?{urlencode({'code': code, **state})}#_"

    def exchange_code(self, form: dict[str, str]) -> dict[str, Any]:
        """POST /oauth/access_token: a code for a short-lived token. As recorded, the answer is flat,
        ``user_id`` (the app-scoped id) a bare JSON number above 2**53, with no ``permissions``; a
        refusal is api.instagram.com's own flat envelope."""
        if form.get("client_id") != self.app_id:
            raise LoginError("Invalid platform app")
        if form.get("client_secret") != self.app_secret:
            raise LoginError("Error validating client secret")
        if form.get("grant_type") != "authorization_code":
            raise LoginError("Invalid grant_type: authorization_code is expected")
        if self.code_refusal:
            refusal, self.code_refusal = self.code_refusal, None
            raise LoginError(refusal)
        code = self.codes.get(form.get("code", ""))
        if code is None:
            raise LoginError("Invalid authorization code")
        if code.used:
            raise LoginError("This authorization code has been used")
        if _now() - code.issued_at > timedelta(hours=1):
            raise LoginError("This authorization code has expired")
        if form.get("redirect_uri") != code.redirect_uri:
            raise LoginError("Error validating verification code. Please make sure your redirect_uri is identical "
                             "to the one you used in the OAuth dialog request")  # fmt: skip
        if not code.account.app_role:
            raise LoginError("Insufficient developer role")
        code.used = True
        token = self.short_lived_token(code.account, tuple(code.permissions))
        answer: dict[str, Any] = {"access_token": token, "user_id": int(code.account.app_scoped_id)}
        if self.lists_permissions:
            answer["permissions"] = ",".join(code.permissions)
        return {"data": [answer]} if self.wrapped_code_answer else answer

    # -- building accounts -------------------------------------------------

    def new_media_id(self) -> str:
        with self._lock:
            self._next_id += 1
            return str(self._next_id)

    def add_account(
        self,
        username: str,
        *,
        posts: int = 0,
        login: str = "instagram",
        token_age: timedelta = timedelta(days=10),
        newest: datetime | None = None,
        spacing: timedelta = timedelta(hours=6),
    ) -> FakeAccount:
        """An account with ``posts`` posts, the newest at ``newest`` and each older by ``spacing``."""
        ig_user_id = f"178414{len(self.accounts) + 40000000000:011d}"
        prefix = "EAA" if login == "facebook" else "IGAA"
        issued = _now() - token_age
        token = Token(f"{prefix}{secrets.token_hex(16)}", issued, issued + TOKEN_LIFETIME)
        account = FakeAccount(ig_user_id, username, {token.value: token}, [], app_scoped_id=f"2{ig_user_id[1:]}")
        self.accounts[ig_user_id] = account
        newest = newest or _now() - timedelta(hours=1)
        for n in range(posts):
            account.posts.append(self.make_post(username, newest - n * spacing, posts - n))
        return account

    def make_post(self, username: str, moment: datetime, number: int, **kwargs: Any) -> FakePost:
        media_id = self.new_media_id()
        media_type = kwargs.pop("media_type", ("IMAGE", "VIDEO", "CAROUSEL_ALBUM")[number % 3])
        return FakePost(
            id=media_id,
            timestamp=moment,
            caption=kwargs.pop("caption", f"{username} post #{number}: see you at the next event!"),
            media_type=media_type,
            permalink=f"https://www.instagram.com/p/C{media_id[-9:]}/",
            **kwargs,
        )

    def publish(self, account: FakeAccount, count: int = 1, *, at: datetime | None = None) -> list[FakePost]:
        """New posts appear at the top of the grid, newest first, a second apart after the newest one
        (never in the future, unless ``at`` says so: Meta stamps a post when it is published)."""
        newest = max((p.timestamp for p in account.posts), default=_now() - timedelta(days=1))
        at = at or min(newest + timedelta(seconds=count), _now())
        start = len(account.posts)
        new = [self.make_post(account.username, at - timedelta(seconds=n), start + count - n) for n in range(count)]
        account.posts[:0] = new
        return new

    def delete(self, account: FakeAccount, post: FakePost) -> None:
        """The club deletes (or archives) a post: it leaves /media, and cursors that point at it die."""
        account.posts = [p for p in account.posts if p.id != post.id]
        account.pinned = [pid for pid in account.pinned if pid != post.id]

    def restore(self, account: FakeAccount, post: FakePost) -> None:
        """An archived post comes back to its place in the grid (by time)."""
        account.posts.append(post)
        account.posts.sort(key=lambda p: p.timestamp, reverse=True)

    def meet(self, parties: int) -> None:
        """Hold the first ``parties`` /media requests until all of them have come (or 30 s pass): runs
        started together then overlap however loaded the machine is."""
        self.meeting = threading.Barrier(parties, action=lambda: setattr(self, "meeting", None), timeout=30)

    def fault(
        self, account: FakeAccount, kind: str, *, endpoint: str = "media", times: int = 1, **options: Any
    ) -> None:
        account.faults.extend(Fault(kind, endpoint, options) for _ in range(times))

    def media_requests(self, account: FakeAccount | None = None) -> list[Request]:
        return [
            r
            for r in list(self.requests)
            if r.path.endswith("/media") and (account is None or f"/{account.ig_user_id}/" in r.path)
        ]

    # -- answering ---------------------------------------------------------

    def media_url(self, post: FakePost, kind: str = "n") -> str:
        """A signed CDN link, as Meta gives: it changes when the signature expires (cdn_epoch)."""
        expiry = f"{0x68000000 + self.cdn_epoch * 3600:08x}"
        return f"https://scontent.cdninstagram.com/v/t51.29350-15/{post.id}_{kind}.jpg?_nc_ht=scontent&oe={expiry}"

    def token_owner(self, host: str, token: str | None) -> tuple[FakeAccount, Token]:
        """The account a token belongs to, checked as Meta checks it."""
        if not token:
            raise GraphError(
                400, "An active access token must be used to query information about the current user.", 2500
            )
        wrong_kind = token.startswith("EAA") != (host == "facebook")
        for account in self.accounts.values():
            found = account.tokens.get(token)
            if found and not wrong_kind:
                if found.expires_at <= _now():
                    stamp = found.expires_at.strftime("%A, %d-%b-%y %H:%M:%S UTC")
                    raise GraphError(400, f"Error validating access token: Session has expired on {stamp}.", 190, 463)
                return account, found
        raise GraphError(400, "Invalid OAuth access token - Cannot parse access token", 190)

    def permitted(self, token: Token) -> None:
        """Reading a profile or media needs instagram_business_basic; Meta says so with code 10."""
        if BASIC not in token.permissions:
            raise GraphError(400, "(#10) Application does not have permission for this action", 10)

    def media_page(self, base: str, version: str, path_id: str, params: dict[str, str], host: str) -> dict[str, Any]:
        account, token = self.token_owner(host, params.get("access_token"))
        self.permitted(token)
        if path_id != account.ig_user_id and host == "instagram":  # as recorded: 100 and no subcode
            raise GraphError(400, "Unsupported request - method type: get", 100)
        if path_id != account.ig_user_id:
            raise GraphError(
                400,
                f"Unsupported get request. Object with ID '{path_id}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                100,
                33,
                "GraphMethodException",
            )
        grid = account.grid()
        start = 0
        if params.get("after"):
            after_id = _decode_cursor(params["after"])
            ids = [p.id for p in grid]
            if after_id not in ids:
                raise GraphError(400, "Invalid parameter: the cursor is not valid", 100)
            start = ids.index(after_id) + 1
        try:
            limit = min(int(params.get("limit", DEFAULT_LIMIT)), MAX_LIMIT)
        except ValueError:
            raise GraphError(400, "(#100) Param limit must be a number", 100) from None
        fields = [f for f in params.get("fields", "id").split(",") if f]
        chunk = grid[start : start + limit]
        body: dict[str, Any] = {"data": [self.render(post, fields, host) for post in chunk]}
        if chunk:
            body["paging"] = {"cursors": {"before": _encode_cursor(chunk[0].id), "after": _encode_cursor(chunk[-1].id)}}
            if start + limit < len(grid):
                query = {k: v for k, v in params.items() if k != "after"}
                query.update(limit=str(limit), after=_encode_cursor(chunk[-1].id))
                body["paging"]["next"] = f"{base}/{version}/{path_id}/media?{urlencode(query)}"
            if start:
                query = {k: v for k, v in params.items() if k != "after"}
                query.update(limit=str(limit), before=_encode_cursor(chunk[0].id))
                body["paging"]["previous"] = f"{base}/{version}/{path_id}/media?{urlencode(query)}"
        return body

    def render(self, post: FakePost, fields: list[str], host: str = "instagram") -> dict[str, Any]:
        """A post as Meta lists it: fields it lacks are left out. Meta refuses a field that IG Media
        does not have (``refused_fields`` makes a host refuse one it has, as an older version would)."""
        values: dict[str, Any] = {
            "id": post.id,
            "caption": post.caption,
            "media_type": post.media_type,
            "media_url": self.media_url(post) if post.has_media_url else None,
            "thumbnail_url": self.media_url(post, "thumb") if post.media_type == "VIDEO" else None,
            "permalink": post.permalink,
            "timestamp": meta_time(post.timestamp),
            "media_product_type": "REELS" if post.media_type == "VIDEO" else "FEED",
            "alt_text": post.alt_text,
            "is_shared_to_feed": True if post.media_type == "VIDEO" else None,  # reels only; extra can say False
        }
        values.update(post.extra)
        unknown = [f for f in fields if f not in values or f in self.refused_fields.get(host, ())]
        if unknown:
            message = f"(#100) Tried accessing nonexisting field ({unknown[0]}) on node type (IGMedia)"
            raise GraphError(400, message, 100)
        item = {f: values[f] for f in fields if f != "id" and values.get(f) is not None}
        if values.get("id") is not None:
            item["id"] = values["id"]  # last, asked for or not, as recorded answers have it
        return item

    def refresh(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("grant_type") != "ig_refresh_token":
            raise GraphError(400, "Unsupported grant_type", 100)
        account, token = self.token_owner("instagram", params.get("access_token"))
        if _now() - token.issued_at < timedelta(hours=24):
            raise GraphError(400, "The access token must be at least 24 hours old to be refreshed", 100)
        return self.issue(account, "IGAA", token.permissions)

    def exchange_fb(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("grant_type") != "fb_exchange_token":
            raise GraphError(400, "Unsupported grant_type", 100)
        if params.get("client_id") != self.app_id:
            raise GraphError(400, "Error validating application. Invalid application ID.", 101)
        if params.get("client_secret") != self.app_secret:
            raise GraphError(400, "Error validating client secret.", 1)
        account, _ = self.token_owner("facebook", params.get("fb_exchange_token"))
        answer = self.issue(account, "EAA")
        if self.omit_expires_in:
            answer.pop("expires_in")
        return answer

    def short_lived_token(self, account: FakeAccount, permissions: tuple[str, ...] = (BASIC,)) -> str:
        """What the Instagram login's OAuth step returns: valid for an hour, to be exchanged."""
        issued = _now()
        token = Token(f"IGAA{secrets.token_hex(16)}", issued, issued + timedelta(hours=1), short_lived=True,
                      permissions=permissions)  # fmt: skip
        account.tokens[token.value] = token
        return token.value

    def me(self, params: dict[str, str]) -> dict[str, Any]:
        """/me: a personal account has no professional id, so no ``user_id`` (recorded)."""
        account, token = self.token_owner("instagram", params.get("access_token"))
        self.permitted(token)
        values = {"id": account.app_scoped_id, "user_id": account.ig_user_id, "username": account.username,
                  "account_type": account.account_type}  # fmt: skip
        if account.account_type == "PERSONAL":
            values.pop("user_id")
        fields = params.get("fields", "id").split(",")
        me = {f: values[f] for f in fields if f in values}
        return {"data": [me]} if self.wrap_me else me

    def exchange_ig(self, params: dict[str, str]) -> dict[str, Any]:
        if params.get("grant_type") != "ig_exchange_token":
            raise GraphError(400, "Unsupported grant_type", 100)
        if params.get("client_secret") != self.app_secret:
            raise GraphError(400, "Error validating client secret.", 1)
        account, token = self.token_owner("instagram", params.get("access_token"))
        if not token.short_lived:
            raise GraphError(400, "Invalid parameter: the access token is not a short-lived token", 100)
        return self.issue(account, "IGAA", token.permissions)

    def profile(self, path_id: str, params: dict[str, str]) -> dict[str, Any]:
        account, _ = self.token_owner("facebook", params.get("access_token"))
        if path_id != account.ig_user_id:
            raise GraphError(400, f"Unsupported get request. Object with ID '{path_id}' does not exist", 100, 33)
        return {"username": account.username, "id": account.ig_user_id}

    def issue(self, account: FakeAccount, prefix: str, permissions: tuple[str, ...] = (BASIC,)) -> dict[str, Any]:
        issued = _now()
        token = Token(f"{prefix}{secrets.token_hex(16)}", issued, issued + TOKEN_LIFETIME, permissions=permissions)
        account.tokens[token.value] = token
        return {"access_token": token.value, "token_type": "bearer", "expires_in": int(TOKEN_LIFETIME.total_seconds())}

    def usage_headers(self, account: FakeAccount | None, host: str) -> dict[str, str]:
        """Each host's usage headers as recorded: graph.instagram.com sends X-App-Usage spelt
        {call_volume, cpu_time} (or none) and no business-use-case header."""
        if host == "api":
            return {}
        if host == "instagram":
            return {"X-App-Usage": json.dumps(self.instagram_usage)} if self.instagram_usage is not None else {}
        headers = {"X-App-Usage": json.dumps(self.app_usage)}
        if account is not None:
            usage = {"type": "instagram", **account.usage}
            headers["X-Business-Use-Case-Usage"] = json.dumps({account.ig_user_id: [usage]})
        return headers


def _make_handler(graph: FakeGraph, host: str) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"
        disable_nagle_algorithm = True  # headers and body go out in two writes: without this, +40 ms each

        def log_message(self, format: str, *args: Any) -> None:  # quiet: tests read their own output
            pass

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            parts = urlsplit(self.path)
            params = dict(parse_qsl(parts.query, keep_blank_values=True))
            graph.requests.append(Request(host, parts.path, params))
            if graph.latency:
                time.sleep(graph.latency)
            base = graph.url(host)
            account = None
            try:
                segments = [s for s in parts.path.split("/") if s]
                version = segments.pop(0) if segments and segments[0].startswith("v") and "." in segments[0] else None
                if segments == ["refresh_access_token"] and host == "instagram":
                    account, _ = graph.token_owner(host, params.get("access_token"))
                    if self.apply_fault(account, "refresh", base, params):
                        return
                    body = graph.refresh(params)
                elif segments == ["oauth", "access_token"] and host == "facebook":
                    account, _ = graph.token_owner(host, params.get("fb_exchange_token"))
                    if self.apply_fault(account, "refresh", base, params):
                        return
                    body = graph.exchange_fb(params)
                elif segments == ["oauth", "authorize"] and host == "api":
                    self.send_raw(302, b"", "text/html", {"Location": graph.authorize(params)})
                    return
                elif segments == ["me"] and host == "instagram":
                    body = graph.me(params)
                elif segments == ["access_token"] and host == "instagram":
                    body = graph.exchange_ig(params)
                elif len(segments) == 1 and host == "facebook" and segments[0].isdigit():
                    body = graph.profile(segments[0], params)
                elif len(segments) == 2 and segments[1] == "media":
                    meeting = graph.meeting
                    if meeting is not None:
                        try:
                            meeting.wait()
                        except threading.BrokenBarrierError:
                            pass
                    account = graph.accounts.get(segments[0])
                    if account and self.apply_fault(account, "media", base, params):
                        return
                    body = graph.media_page(base, version or "v25.0", segments[0], params, host)
                else:
                    raise GraphError(400, f"Unknown path components: {parts.path}", 2500)
            except GraphError as exc:
                self.send_json(exc.status, exc.envelope(host), {**graph.usage_headers(account, host), **exc.headers()})
                return
            self.send_json(200, body, graph.usage_headers(account, host))

        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            """api.instagram.com's code exchange; Meta answers any other POST here with an error."""
            length = int(self.headers.get("Content-Length") or 0)
            form = dict(parse_qsl(self.rfile.read(length).decode(), keep_blank_values=True))
            path = urlsplit(self.path).path
            graph.requests.append(Request(host, path, form, method="POST"))
            if graph.api_down:
                self.send_raw(503, b"<html><body>Service Unavailable</body></html>", "text/html")
                return
            if host != "api" or path.rstrip("/") != "/oauth/access_token":
                self.send_json(400, GraphError(400, f"Unknown path components: {path}", 2500).envelope(host), {})
                return
            try:
                body = graph.exchange_code(form)
            except LoginError as exc:
                self.send_json(400, exc.envelope(), {})
                return
            self.send_json(200, body, {})

        def apply_fault(self, account: FakeAccount, endpoint: str, base: str, params: dict[str, str]) -> bool:
            """Play the account's next scripted fault for this endpoint; True when it answered."""
            fault = next((f for f in account.faults if f.endpoint == endpoint), None)
            if fault is None:
                return False
            opts = fault.options
            if opts.get("skip"):  # let this many matching requests through first
                opts["skip"] -= 1
                return False
            account.faults.remove(fault)
            if fault.kind == "hold":  # then answers as the next scripted fault says, if any
                graph.held.set()
                graph.released.wait(opts.get("timeout", 120))
                return self.apply_fault(account, endpoint, base, params)
            if fault.kind == "slow":  # answers only once the test ends: the client's timeout decides
                graph.released.wait(opts.get("seconds", 120))
                return False
            if fault.kind == "redirect":
                query = urlencode(params)
                self.send_raw(302, b"", "text/html", {"Location": f"{opts['location']}?{query}"})
                return True
            if fault.kind == "drop":
                self.close_connection = True
                self.connection.shutdown(2)
                return True
            if fault.kind == "error":
                error = GraphError(
                    opts.get("status", 400),
                    opts.get("message", "An unknown error occurred"),
                    opts.get("code", 1),
                    opts.get("subcode"),
                    opts.get("type"),
                )
                body = error.envelope(host)
                if opts.get("is_transient") is not None:
                    body["error"]["is_transient"] = opts["is_transient"]
                headers = {**graph.usage_headers(account, host), **error.headers()}
                headers.update(opts.get("headers", {}))
                self.send_json(error.status, body, headers)
                return True
            if fault.kind == "html":  # or any text that is not JSON, with its own content type
                page = opts.get("text", "<html><body><h1>502 Bad Gateway</h1></body></html>").encode()
                kind = opts.get("content_type", "text/html")
                self.send_raw(opts.get("status", 502), page, kind, opts.get("headers", {}))
                return True
            if fault.kind == "not_json":
                self.send_raw(200, b'{"data": [{"id": "1", ', "application/json")
                return True
            if fault.kind == "body":
                self.send_json(opts.get("status", 200), opts["body"], graph.usage_headers(account, host))
                return True
            if fault.kind == "foreign_next":
                body = graph.media_page(base, "v25.0", account.ig_user_id, params, host)
                query = urlsplit(body["paging"]["next"]).query
                body["paging"]["next"] = f"{opts.get('origin', 'https://graph.example.net')}/v25.0/media?{query}"
                self.send_json(200, body, graph.usage_headers(account, host))
                return True
            raise ValueError(f"unknown fault {fault.kind}")

        def send_json(self, status: int, body: Any, headers: dict[str, str]) -> None:
            data = json.dumps(body).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json; charset=UTF-8")
            self.send_header("facebook-api-version", "v25.0")
            for name, value in headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def send_raw(self, status: int, data: bytes, content_type: str, headers: dict[str, str] | None = None) -> None:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

    return Handler


def main(argv: list[str] | None = None) -> None:
    """Serve a fake Graph API with a few accounts until interrupted, for trying the tool by hand."""
    parser = argparse.ArgumentParser(prog="python -m tests.fake_graph", description=main.__doc__)
    parser.add_argument("--accounts", type=int, default=5, help="how many club accounts (default 5)")
    parser.add_argument("--posts", type=int, default=120, help="posts per account (default 120)")
    parser.add_argument("--latency-ms", type=float, default=0, help="delay added to every answer")
    args = parser.parse_args(argv)
    graph = FakeGraph().start()
    graph.latency = args.latency_ms / 1000
    for n in range(1, args.accounts + 1):
        graph.add_account(f"club{n}", posts=args.posts)
    print("# Fake Graph API running. In another shell, export these and try the tool:")
    print(f"export INSTAGRAM_GRAPH_URL={graph.instagram_url}")
    print(f"export FACEBOOK_GRAPH_URL={graph.facebook_url}")
    print(f"export INSTAGRAM_APP_ID={graph.app_id}")
    print(f"export INSTAGRAM_APP_SECRET={graph.app_secret}")
    print(f"export INSTAGRAM_API_URL={graph.api_url}")
    print(f"export INSTAGRAM_AUTHORIZE_URL={graph.api_url}")
    print(f"export INSTAGRAM_REDIRECT_URI={graph.redirect_uri}")
    print("# One long-lived token per fake account (made up, valid only here):")
    for account in graph.accounts.values():
        print(f"#   {account.username}: {account.token}")
    print("# Or link through Instagram's login: 'link-url --name NAME' prints an address; the fake's login")
    print("# window approves it as the club named by &login=USERNAME (curl -s -o /dev/null -w '%{redirect_url}'")
    print("# 'ADDRESS&login=club1') and answers with the address to paste into add-account --redirect-url.")
    print("# Addresses already approved, one per club, for add-account --redirect-url 'ADDRESS' --name NAME:")
    for account in graph.accounts.values():
        print(f"#   approved by {account.username}: {graph.redirect_address(account)}")
    print("# Ctrl-C stops the fake.", flush=True)
    try:
        threading.Event().wait()
    except KeyboardInterrupt:
        graph.stop()


if __name__ == "__main__":
    main()
