"""``--check-reproducible``: the second build starts from nothing, like the first."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from packmatrix.core.appspec import AppSpec
from packmatrix.core.context import Context, Options
from packmatrix.formats.base import Built
from packmatrix.steps.inspection import check_reproducible


@dataclass
class LeftoverSensitive:
    """Builds an artifact that lists what the source copy and its build venv held before the
    build, then leaves a ``build/`` folder and an ``*.egg-info`` behind, as setuptools does."""

    name: str = "leftovers"
    title: str = "sees leftovers"

    def build(self, ctx: Context) -> Built:
        source = ctx.source
        venv = ctx.scratch("build-venv")
        seen = sorted(str(path.relative_to(source)) for path in source.rglob("*"))
        seen.append(f"venv existed: {venv.exists()}")
        (source / "build").mkdir(exist_ok=True)
        (source / "app.egg-info").mkdir(exist_ok=True)
        venv.mkdir(exist_ok=True)
        artifact = ctx.out(self.name) / "artifact.txt"
        artifact.write_text("\n".join(seen) + "\n", encoding="utf-8")
        return Built(files=[artifact], commands=[], seconds=0.0)


@pytest.fixture(name="ctx")
def _ctx(tmp_path: Path) -> Iterator[Context]:
    root = tmp_path / "app"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "app"\nversion = "1"\n')
    app = AppSpec(
        root=root,
        name="app",
        version="1",
        script="app",
        package="app",
        health="/health",
        checks=(),
        build_requires=(),
        requires_python=None,
    )
    ctx = Context.create(app, Options(check_reproducible=True), tmp_path / "logs")
    yield ctx
    ctx.close()


class TestSecondBuild:
    def test_starts_from_a_fresh_source_and_venv(self, ctx: Context) -> None:
        """No build/, *.egg-info or build venv of the first build is seen by the second."""
        fmt = LeftoverSensitive()
        verdict = check_reproducible(fmt, ctx, fmt.build(ctx))
        assert (verdict.identical, verdict.difference) == (True, None)

    def test_reused_leftovers_are_caught(
        self, ctx: Context, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Were the first build's leftovers kept, the check would say the builds differ."""
        monkeypatch.setattr(Context, "forget_shared_builds", lambda self: None)
        fmt = LeftoverSensitive()
        verdict = check_reproducible(fmt, ctx, fmt.build(ctx))
        assert verdict.identical is False
        assert verdict.difference is not None
