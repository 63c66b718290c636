"""A secret planted in an app's package data is flagged in every format, the image included."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from packmatrix.core.appspec import load_app
from packmatrix.core.context import Context, Options
from packmatrix.formats.registry import DEFAULT_FORMATS, FORMATS
from packmatrix.steps.inspection import security_facts
from tests.conftest import require

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
KEY_ID = "AKIA" + "Q7XH2M4TZB6W3RKD"  # not a real key; split so this file is not flagged itself
PLANTED = "sample_app/data/credentials.txt"


@pytest.fixture(scope="module", name="ctx")
def _ctx(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Context]:
    """sample_app with an AWS key in a data file that its package data ships (data/*.txt)."""
    root = tmp_path_factory.mktemp("leaky") / "sample_app"
    shutil.copytree(REPO / "sample_app", root, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    (root / "src" / PLANTED).write_text(f"aws_access_key_id = {KEY_ID}\n", encoding="utf-8")
    logs = tmp_path_factory.mktemp("logs")
    ctx = Context.create(load_app(root), Options(), logs)
    yield ctx
    ctx.close()


@pytest.mark.parametrize("name", DEFAULT_FORMATS)  # nuitka: test_nuitka.py, on a smaller app
def test_planted_key_is_found(ctx: Context, name: str) -> None:
    """The scan reads inside each artifact (a wheel, a tar, a frozen archive, image layers)."""
    fmt = FORMATS[name]
    unavailable = fmt.unavailable(ctx)
    require(unavailable is None, f"{name} can't run here: {unavailable}")
    facts = security_facts(fmt.build(ctx), [])
    found = [f for f in facts.findings if f.rule == "aws-access-key" and "credentials" in f.path]
    assert found, [finding.path for finding in facts.findings]
    assert not facts.clean
