"""``packmatrix`` and ``python -m packmatrix``."""

from __future__ import annotations

import sys

from packmatrix.cli.main import main


def entrypoint() -> None:
    sys.exit(main(sys.argv[1:]))


if __name__ == "__main__":
    entrypoint()
