"""pex on any host Python: the pip it builds with is found offline."""

from __future__ import annotations

import sys
from pathlib import Path

from packmatrix.core.context import Context, Options
from packmatrix.formats.pex import pex_pip, pip_bootstrap
from tests.unit.test_pipeline import fake_app


def test_the_pip_pex_builds_with_under_this_python(tmp_path: Path) -> None:
    """Up to 3.11 pex resolves with the pip it vendors (nothing to prepare); from 3.12 on it
    bootstraps a pip release, whose wheels a ``--no-pypi`` build must be given."""
    ctx = Context.create(fake_app(tmp_path), Options(), tmp_path / "logs")
    try:
        found = pex_pip()
        if sys.version_info < (3, 12):
            assert found is None
            assert pip_bootstrap(ctx) == []
        else:
            assert found is not None
            version, requirements = found
            assert f"pip=={version}" in requirements
    finally:
        ctx.close()
