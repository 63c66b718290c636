"""The container images built for linux/arm64 and run as the grid's platform column: when the
column is on the grid, how its cells and images are kept, shown and kept apart from native
figures."""

from __future__ import annotations

import runpy
import sys
from pathlib import Path

import pytest

from packmatrix.container import emulation, frozenroot
from packmatrix.core.context import Context, Options
from packmatrix.formats.pyinstaller import SPEC_ANCHOR
from packmatrix.grid import imagebuild, imagecells, targets
from packmatrix.model.grid import Grid, GridCell, GridTarget, PlatformImage
from packmatrix.model.results import Report
from packmatrix.report import render as report
from packmatrix.report import ship
from tests.unit.real_reports import LINUX, typed
from tests.unit.test_pipeline import fake_app


def arm64_image(name: str, *, cached_from: str | None = None) -> PlatformImage:
    return PlatformImage(
        format=name,
        platform="linux/arm64",
        tag=f"packmatrix-kept/sample-app-{name}-arm64:k",
        id="sha256:" + "ab" * 32,
        bytes=150_000_000,
        compressed_bytes=52_000_000,
        base="packmatrix/python:3.11-bookworm-slim-arm64, made with debootstrap --arch arm64",
        base_bytes=120_000_000,
        build_seconds=312.0,
        emulated=True,
        cached_from=cached_from,
    )


def with_platform_column(*, cached_from: str | None = None) -> Report:
    """The real Linux report, its grid given the linux/arm64 column and its two images."""
    doc = typed(LINUX)
    assert doc.grid is not None
    doc.grid.targets.append(imagecells.platform_target())
    for name in ("docker", "docker-frozen"):
        doc.grid.cells.append(
            GridCell(
                format=name,
                target="linux/arm64",
                passed=True,
                reason="2/2 checks passed; answered 4.1 s after the start (emulated)",
                predicted=True,
                prediction=imagecells.PREDICTION,
                seconds=9.5,
            )
        )
    doc.grid.images = [arm64_image(n, cached_from=cached_from) for n in ("docker", "docker-frozen")]
    return doc


class TestColumn:
    def test_an_arm64_target_brings_the_platform_column(self) -> None:
        """The default grid names the arm64 targets where qemu runs them: the column comes."""
        assert imagecells.wanted(targets.TARGET_NAMES)
        assert imagecells.wanted(("bookworm", "bookworm-arm64"))

    def test_only_x86_targets_named_leave_it_out(self) -> None:
        """A user who names x86_64 targets only does not pay for emulated image builds."""
        assert not imagecells.wanted(("bookworm", "bullseye-python"))
        assert not imagecells.wanted(())

    def test_the_column_says_what_its_cells_are(self) -> None:
        """The column is a platform, aarch64, whose cells are images with their own OS."""
        column = imagecells.platform_target()
        assert column.name == "linux/arm64"
        assert column.arch == "aarch64"
        assert column.describe().startswith(
            "the container images built for linux/arm64, each with its own OS"
        )

    def test_without_qemu_the_grid_says_how_and_goes_on(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """No qemu-aarch64 in binfmt_misc (a host this one is not): one note with the remedy, no
        column, no cell, nothing built."""
        remedy = "qemu-aarch64 is not registered — apt-get install qemu-user-static binfmt-support"
        monkeypatch.setattr(emulation, "emulation_problem", lambda arch: remedy)
        ctx = Context.create(
            fake_app(tmp_path), Options(targets=targets.TARGET_NAMES), tmp_path / "logs"
        )
        grid = Grid(
            status="ran",
            targets=[GridTarget(name="bookworm", suite="bookworm", glibc="2.36", python=None)],
        )
        try:
            imagecells.add_platform_column(ctx, grid, ["docker", "wheel"], lambda a, b: None)
        finally:
            ctx.close()
        assert grid.notes == [f"linux/arm64 images not built: {remedy}"]
        assert [t.name for t in grid.targets] == ["bookworm"]
        assert grid.cells == []
        assert grid.images is None

    def test_no_image_passed_no_column(self, tmp_path: Path) -> None:
        """Only the image formats that passed on the host are built for the platform."""
        ctx = Context.create(
            fake_app(tmp_path), Options(targets=targets.TARGET_NAMES), tmp_path / "logs"
        )
        grid = Grid(status="ran")
        try:
            imagecells.add_platform_column(ctx, grid, ["wheel", "pex"], lambda a, b: None)
        finally:
            ctx.close()
        assert grid.targets == []
        assert grid.notes == []


class TestCellKey:
    def test_a_cell_is_kept_by_the_image_and_the_checks(self, tmp_path: Path) -> None:
        """The same image and checks: the same key; another image id: another key."""
        ctx = Context.create(fake_app(tmp_path), Options(), tmp_path / "logs")
        try:
            first = imagecells.cell_key(ctx, arm64_image("docker"))
            again = imagecells.cell_key(ctx, arm64_image("docker", cached_from="r1"))
            other = imagecells.cell_key(
                ctx, PlatformImage.from_json({**arm64_image("docker").to_json(), "id": "sha256:cd"})
            )
        finally:
            ctx.close()
        assert first == again != other


class TestReport:
    def test_sizes_per_platform_native_and_emulated_apart(self) -> None:
        """Each image on the host's platform and on linux/arm64, the build time labelled native
        or emulated, never one column of figures."""
        rows = report.image_platforms(with_platform_column())
        assert [(r.format, r.platform) for r in rows] == [
            ("docker", "linux/amd64"),
            ("docker", "linux/arm64"),
            ("docker-frozen", "linux/amd64"),
            ("docker-frozen", "linux/arm64"),
        ]
        assert rows[0].built.endswith("(native)")
        assert rows[1].built == "312 s (emulated)"

    def test_markdown_and_html_show_the_table(self) -> None:
        doc = with_platform_column()
        text = report.render("matrix.md.j2", doc)
        assert (
            "| docker | linux/arm64 | 150.0 MB | 52.0 MB | "
            "`packmatrix/python:3.11-bookworm-slim-arm64` | 312 s (emulated) |" in text
        )
        html = report.render("matrix.html.j2", doc)
        assert 'id="grid-images"' in html
        assert 'data-platform="linux/arm64"' in html

    def test_a_kept_image_says_from_which_run(self) -> None:
        rows = report.image_platforms(with_platform_column(cached_from="20261206T0500Z-abc"))
        assert rows[1].built == "kept from run 20261206T0500Z-abc"

    def test_no_image_for_another_platform_no_table(self) -> None:
        doc = typed(LINUX)
        assert report.image_platforms(doc) == []
        assert "Image sizes per platform" not in report.render("matrix.md.j2", doc)

    def test_it_round_trips_and_validates(self) -> None:
        doc = with_platform_column()
        again = Report.from_json(doc.to_json())
        assert again.grid is not None
        assert doc.grid is not None
        assert again.grid.images == doc.grid.images
        report.validate(doc.to_json())

    def test_the_platform_column_is_no_target_system(self) -> None:
        """A server with no Python is a system: the image cells of the platform column are not
        counted there (they bring their own OS); the arm64 scenario sees them."""
        doc = with_platform_column()
        no_python = ship.no_python(doc)
        assert not any("linux/arm64" in line for line in no_python.evidence)
        arm64 = ship.arm64(doc)
        assert arm64 is not None
        assert any("linux/arm64" in line for line in arm64.evidence)


class TestRecipes:
    def test_the_arm64_frozen_root_has_its_own_tag(self) -> None:
        assert (
            frozenroot.root_tag("bookworm", "arm64") == frozenroot.root_tag("bookworm") + "-arm64"
        )

    def test_the_spec_hook_goes_before_the_bundle(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """The script run in the arm64 container puts the strip step where the host's build
        puts it: between the analysis and ``pyz = PYZ(``."""
        spec = tmp_path / "app.spec"
        spec.write_text(f"a = Analysis([])\n{SPEC_ANCHOR}a.pure)\n", encoding="utf-8")
        script = tmp_path / "hook.py"
        script.write_text(imagebuild.hook_script(), encoding="utf-8")
        monkeypatch.setattr(sys, "argv", [str(script), str(spec)])
        runpy.run_path(str(script))
        text = spec.read_text(encoding="utf-8")
        assert text.index("packmatrix_elfstrip.strip_collected") < text.index("pyz = PYZ(")
        assert "/build/out/stripping.json" in text
