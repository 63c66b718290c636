"""Serve the app with waitress, a production WSGI server, on HOST:PORT (127.0.0.1:8000)."""

from __future__ import annotations

import os

from waitress import serve

from receipts import create_app


def main() -> None:
    serve(
        create_app(),
        host=os.environ.get("HOST", "127.0.0.1"),
        port=int(os.environ.get("PORT", "8000")),
        threads=4,
    )


if __name__ == "__main__":
    main()
