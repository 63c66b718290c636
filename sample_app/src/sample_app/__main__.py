"""Console script: serve the app with waitress on $HOST:$PORT."""

from __future__ import annotations

import os
import sys


def main(argv: list[str] | None = None) -> int:
    from waitress import serve

    from sample_app import create_app

    host = os.environ.get("HOST", "127.0.0.1")
    port_text = os.environ.get("PORT", "8000")
    try:
        port = int(port_text)
    except ValueError:
        print(f"sample-app: PORT must be a number, got {port_text!r}", file=sys.stderr)
        return 2
    print(f"sample-app: serving on http://{host}:{port}", flush=True)
    serve(create_app(), host=host, port=port, threads=4, ident="sample-app")
    return 0


if __name__ == "__main__":
    sys.exit(main())
