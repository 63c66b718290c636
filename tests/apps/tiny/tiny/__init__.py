"""A web app on the standard library alone: http.server, JSON, a data file, its own version."""

from __future__ import annotations

import json
from http.server import BaseHTTPRequestHandler
from importlib import metadata, resources


class Handler(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        if self.path == "/health":
            self._send(200, "application/json", json.dumps({"status": "ok"}))
        elif self.path == "/motto":
            text = resources.files("tiny").joinpath("static/motto.txt").read_text("utf-8")
            self._send(200, "text/plain; charset=utf-8", text)
        elif self.path == "/about":
            version = metadata.version("tiny-app")
            self._send(
                200,
                "application/json",
                json.dumps({"distribution": "tiny-app", "version": version}),
            )
        else:
            self._send(404, "text/plain", "not found")

    def _send(self, status: int, content_type: str, body: str) -> None:
        data = body.encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, format: str, *args: object) -> None:
        pass
