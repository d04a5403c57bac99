"""Vercel's entry: one sync batch per authorised GET of /api/cron (Vercel Cron, Supabase Cron, or a
person pressing "sync now"). All the logic is ingest_instagram.answer_cron; this only speaks HTTP."""

from __future__ import annotations

import json
import os
import sys
from http.server import BaseHTTPRequestHandler
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ingest_instagram  # noqa: E402

ingest_instagram._setup_logging()  # log lines to stderr, which Vercel keeps


class handler(BaseHTTPRequestHandler):  # noqa: N801 (the name Vercel's Python runtime looks for)
    def _answer(self) -> None:
        status, body = ingest_instagram.answer_cron(self.command, self.path, self.headers, dict(os.environ))
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Cache-Control", "no-store")
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = do_DELETE = do_PATCH = _answer  # noqa: N815 (http.server's names)

    def log_message(self, format: str, *args: object) -> None:  # the request line may carry ?account=
        pass
