"""Notification channels on 127.0.0.1 that record what they receive: a webhook for Apprise's json:// (`Hook`) and
an SMTP handler for aiosmtpd (`Inbox`)."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "s3cr3t-T0ken-abc123"  # in every Hook URL: a secret that must never reach a log or an output


class Hook:
    """A webhook endpoint: records every POST (path and JSON body) and answers with `status`."""

    def __init__(self):
        self.posts: list[tuple[str, dict]] = []
        self.headers: list[dict] = []
        self.status = 200
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                hook.headers.append(dict(self.headers))
                hook.posts.append((self.path, json.loads(body)))
                self.send_response(hook.status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.url = f"json://127.0.0.1:{self.port}/hook/{TOKEN}"
        threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True).start()

    def messages(self) -> list[dict]:
        return [body for _, body in self.posts]


class Inbox:
    def __init__(self):
        self.mails: list[bytes] = []

    async def handle_DATA(self, server, session, envelope):
        self.mails.append(envelope.content)
        return "250 OK"
