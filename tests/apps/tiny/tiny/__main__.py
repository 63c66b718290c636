"""Serve the app on HOST:PORT from the environment (127.0.0.1:8000 by default)."""

from __future__ import annotations

import os
from http.server import ThreadingHTTPServer

from tiny import Handler


def main() -> None:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    with ThreadingHTTPServer((host, port), Handler) as server:
        server.serve_forever()


if __name__ == "__main__":
    main()
