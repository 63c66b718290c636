"""The artifact cache: a build is reused only when nothing it was made from changed, entries are
whole or absent, the least recently used go first, and the CLI says what the cache holds."""

from __future__ import annotations

import dataclasses
import json
import os
import re
import shutil
import time
import types
from pathlib import Path

import pytest

from packmatrix.cli.main import main
from packmatrix.core.context import Context, Options
from packmatrix.formats.base import Built
from packmatrix.formats.pex import PexFormat
from packmatrix.formats.pyinstaller import PyInstallerFormat
from packmatrix.formats.shiv import ShivFormat
from packmatrix.formats.wheel import WheelFormat
from packmatrix.model.facts import BaseImageFacts, ImageFacts
from packmatrix.model.records import Figures
from packmatrix.model.results import Report
from packmatrix.report import render as report
from packmatrix.steps import cache, cachekey

SAMPLE_APP = Path(__file__).resolve().parents[2] / "sample_app"
FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "reports"


@pytest.fixture(autouse=True, name="cache_home")
def _private_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test here has its own cache folder: the user's cache is never touched."""
    home = tmp_path / "xdg-cache"
    monkeypatch.setenv("XDG_CACHE_HOME", str(home))
    monkeypatch.delenv(cache.MAX_ENV, raising=False)
    return home


@pytest.fixture(name="source")
def _source(tmp_path: Path) -> Path:
    copy = tmp_path / "app"
    shutil.copytree(SAMPLE_APP, copy, ignore=shutil.ignore_patterns("build", "*.egg-info"))
    return copy


def parts(source: Path, **changes: object) -> cachekey.KeyParts:
    values: dict[str, object] = {
        "format": "pex",
        "options": "{}",
        "source": cachekey.source_digest(source),
        "lock": "flask==3.0.0 --hash=sha256:aa\n",
        "tools": {"python": "3.11.7", "pex": "2.1.0"},
    }
    values.update(changes)
    return cachekey.KeyParts(**values)  # type: ignore[arg-type]


def template(source: Path) -> Path:
    return next(source.rglob("templates/*.html"))


class TestKey:
    def test_same_inputs_same_key(self, source: Path) -> None:
        """Nothing changed: the same key, so the build is reused."""
        assert parts(source).key() == parts(source).key()

    def test_a_changed_source_file_changes_it(self, source: Path) -> None:
        """One line of one template edited: a new key."""
        before = parts(source).key()
        page = template(source)
        page.write_text(page.read_text(encoding="utf-8") + "<!-- edited -->\n", encoding="utf-8")
        assert parts(source).key() != before

    def test_a_renamed_file_changes_it(self, source: Path) -> None:
        """The same bytes under another path are another source tree."""
        before = parts(source).key()
        page = template(source)
        page.rename(page.with_name("renamed.html"))
        assert parts(source).key() != before

    @pytest.mark.parametrize(
        "ignored",
        ["build/lib/x.py", "__pycache__/app.cpython-311.pyc", "src/x/__pycache__/y.pyc",
         "dist/old.whl", "app.egg-info/PKG-INFO", ".git/HEAD", ".venv/bin/python"],
    )  # fmt: skip
    def test_ignored_files_do_not(self, source: Path, ignored: str) -> None:
        """What the source copy leaves out (build output, bytecode, VCS) is not in the key."""
        before = parts(source).key()
        path = source / ignored
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("leftover", encoding="utf-8")
        assert parts(source).key() == before

    def test_a_skipped_folder_does_not(self, source: Path) -> None:
        """The reports folder inside the app's tree is rewritten by every run: left out."""
        reports = source / "reports"
        before = cachekey.source_digest(source, [reports])
        reports.mkdir()
        (reports / "matrix.json").write_text("{}", encoding="utf-8")
        assert cachekey.source_digest(source, [reports]) == before

    @pytest.mark.parametrize(
        "change",
        [
            {"lock": "flask==3.0.1 --hash=sha256:bb\n"},
            {"tools": {"python": "3.11.7", "pex": "2.1.1"}},
            {"tools": {"python": "3.12.1", "pex": "2.1.0"}},
            {"format": "pex-venv"},
            {"options": '{"onefile": false}'},
        ],
        ids=["lock", "tool-version", "python-version", "format", "flag"],
    )
    def test_every_other_input_changes_it(self, source: Path, change: dict[str, object]) -> None:
        """A new lock, tool or Python version, format or build flag: a new key."""
        assert parts(source, **change).key() != parts(source).key()

    def test_format_flags_are_the_constructor_options(self) -> None:
        """Without a ``cache_key`` method, a format's plain attributes tell its builds apart."""
        ctx = None  # not read when the format has no cache_key
        one = cachekey.format_options(PyInstallerFormat(onefile=True), ctx)  # type: ignore[arg-type]
        broken = PyInstallerFormat(onefile=True, collect_data=False)
        assert one != cachekey.format_options(broken, ctx)  # type: ignore[arg-type]
        assert one != cachekey.format_options(PyInstallerFormat(onefile=False), ctx)  # type: ignore[arg-type]
        assert cachekey.format_options(PexFormat(venv=True), ctx) != cachekey.format_options(  # type: ignore[arg-type]
            PexFormat(venv=False),
            ctx,  # type: ignore[arg-type]
        )
        assert '"collect_data": true' in one

    def test_a_format_may_name_its_own_key(self) -> None:
        """A format with ``cache_key(ctx)`` decides what its builds depend on."""

        class Custom:
            name = "custom"

            def cache_key(self, ctx: object) -> str:
                return "base image sha256:123"

        assert cachekey.format_options(Custom(), None) == "base image sha256:123"  # type: ignore[arg-type]

    def test_the_profile_is_part_of_the_key(self) -> None:
        """The options a profile chose tell two builds of a format apart; a format both
        profiles build alike (the wheel) keeps one key."""

        def run(profile: str) -> Context:
            namespace = types.SimpleNamespace(options=Options(profile=profile), lock=[])
            namespace.own_names = {"sample-app"}
            return namespace  # type: ignore[return-value]

        onefile = PyInstallerFormat(onefile=True)
        tuned = cachekey.build_options(onefile, run("tuned"))
        assert tuned != cachekey.build_options(onefile, run("plain"))
        assert "--strip" in tuned
        plain = cachekey.format_options(onefile, None)  # type: ignore[arg-type]
        assert cachekey.build_options(onefile, run("plain")) == plain
        pex = PexFormat(venv=True)
        assert cachekey.build_options(pex, run("tuned")) != cachekey.build_options(
            pex, run("plain")
        )
        for alike in (WheelFormat(), ShivFormat()):
            assert cachekey.build_options(alike, run("tuned")) == cachekey.build_options(
                alike, run("plain")
            )


def base_facts() -> BaseImageFacts:
    return BaseImageFacts(
        tag="python:3.11-slim",
        id="sha256:" + "b" * 64,
        ref="python:3.11-slim",
        bytes=120_000_000,
        os_arch="linux/amd64",
        python="3.11.7",
        libc="glibc 2.36",
    )


def built_in(folder: Path, *, onedir: bool = False) -> Built:
    """A small artifact: one file, or a folder of two files."""
    folder.mkdir(parents=True)
    if onedir:
        bundle = folder / "app"
        (bundle / "_internal").mkdir(parents=True)
        (bundle / "app").write_bytes(b"\x7fELF binary")
        (bundle / "_internal" / "lib.so").write_bytes(b"library")
        return Built(
            files=sorted(p for p in bundle.rglob("*") if p.is_file()),
            commands=[["pyinstaller", "--onedir"]],
            seconds=12.5,
            folder=bundle,
        )
    artifact = folder / "app.pex"
    artifact.write_bytes(b"#!/usr/bin/env python3.11\nPK...")
    return Built(
        files=[artifact],
        commands=[["pex", "-o", "$WORK/out/app.pex"]],
        seconds=2.1,
        figures=Figures(image_bytes=None),
    )


class TestEntries:
    def test_a_stored_build_comes_back(self, tmp_path: Path) -> None:
        """Stored, then found: the same files (bytes), commands, build time and run."""
        built = built_in(tmp_path / "out")
        assert cache.store("k1", built, run_id="run-1", commands=built.commands)
        hit = cache.lookup("k1")
        assert hit is not None
        assert [p.read_bytes() for p in hit.built.files] == [built.files[0].read_bytes()]
        assert hit.built.files[0].is_relative_to(cache.artifacts_dir() / "k1")
        assert (hit.built.commands, hit.built.seconds, hit.run_id) == (
            built.commands,
            2.1,
            "run-1",
        )
        assert hit.built_at

    def test_a_folder_artifact_keeps_its_tree(self, tmp_path: Path) -> None:
        """A onedir comes back as its folder with every file in it."""
        built = built_in(tmp_path / "out", onedir=True)
        cache.store("k2", built, run_id="run-1", commands=built.commands)
        hit = cache.lookup("k2")
        assert hit is not None
        assert hit.built.folder is not None
        names = sorted(p.relative_to(hit.built.folder).as_posix() for p in hit.built.files)
        assert names == ["_internal/lib.so", "app"]
        assert (hit.built.folder / "app").read_bytes() == b"\x7fELF binary"

    def test_unknown_key_misses(self) -> None:
        assert cache.lookup("nothing-here") is None

    def test_an_interrupted_store_leaves_no_entry(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """A failure while copying (a full disk): no entry, no temporary folder, the run goes
        on."""
        built = built_in(tmp_path / "out")

        def full(*args: object, **kwargs: object) -> None:
            raise OSError(28, "No space left on device")

        monkeypatch.setattr(shutil, "copy2", full)
        assert not cache.store("k3", built, run_id="run-1", commands=[])
        assert cache.lookup("k3") is None
        assert list(cache.artifacts_dir().iterdir()) == []

    def test_a_half_entry_is_never_an_entry(self, tmp_path: Path) -> None:
        """A temporary folder a killed run left is not listed, and is removed once stale."""
        leftover = cache.artifacts_dir() / ".k4.abc.tmp"
        (leftover / "files").mkdir(parents=True)
        assert cache.lookup("k4") is None
        assert cache.entries() == []
        old = time.time() - 2 * cache.STALE_TEMP_SECONDS
        os.utime(leftover, (old, old))
        cache.evict(cache.DEFAULT_MAX_BYTES)
        assert not leftover.exists()

    def test_an_image_is_kept_by_id(self, tmp_path: Path) -> None:
        """An image's entry holds its saved tar and the image's facts; evicting or clearing it
        names the image, so that it leaves the engine too."""
        built = built_in(tmp_path / "out")
        base = base_facts()
        built.image = ImageFacts(tag="packmatrix-kept/app:k5", id="sha256:" + "a" * 64, base=base)
        assert cache.store("k5", built, run_id="run-1", commands=[])
        hit = cache.lookup("k5")
        assert hit is not None
        assert hit.built.image == built.image
        assert cache.kept_images([cache.artifacts_dir() / "k5"]) == ["sha256:" + "a" * 64]
        assert "1 image(s) kept in the container engine" in cache.info_line()

    def test_a_fresh_build_replaces_the_entry_and_its_image(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """After --rebuild (or an entry whose image left the engine) the fresh build is the
        entry: later runs reuse it, and the image the old entry kept leaves the engine."""
        removed: list[list[str]] = []
        monkeypatch.setattr(cache, "remove_kept", lambda ids: removed.append(list(ids)))
        base = base_facts()
        for run, image in (("run-1", "1"), ("run-2", "2")):
            built = built_in(tmp_path / run)
            built.image = ImageFacts(tag="packmatrix-kept/app:k6", id=image * 64, base=base)
            assert cache.store("k6", built, run_id=run, commands=[])
        hit = cache.lookup("k6")
        assert hit is not None
        assert hit.run_id == "run-2"
        assert hit.built.image is not None
        assert hit.built.image.id == "2" * 64
        assert removed == [["1" * 64]]
        assert not list(cache.artifacts_dir().glob(".*"))  # nothing left aside

    def test_each_cache_tags_its_images_apart(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        """Two caches on one engine build the same key; their images get different tags, so
        one cache never moves the other's tag (nor clears the other's image)."""
        first = cache.image_label("k" * 40)
        assert cache.image_label("k" * 40) == first
        assert first.startswith("k" * 20 + "-")
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "another-cache"))
        assert cache.image_label("k" * 40) != first
        assert re.fullmatch(r"[\w][\w.-]{0,127}", first)  # a valid image tag


class TestEviction:
    @staticmethod
    def entry(tmp_path: Path, key: str, size: int, used: float) -> None:
        folder = tmp_path / "src" / key
        folder.mkdir(parents=True)
        artifact = folder / "a.bin"
        artifact.write_bytes(b"x" * size)
        cache.store(key, Built(files=[artifact], commands=[], seconds=1.0), run_id="r", commands=[])
        meta = cache.artifacts_dir() / key / cache.ENTRY_FILE
        os.utime(meta, (used, used))

    def test_least_recently_used_go_first(self, tmp_path: Path) -> None:
        """Over the cap, the entries used longest ago are removed until it fits."""
        now = time.time()
        for key, age in (("old", 300), ("middle", 200), ("new", 100)):
            self.entry(tmp_path, key, 10_000, now - age)
        sizes = {entry.path.name: entry.bytes for entry in cache.entries()}
        removed = cache.evict(sizes["middle"] + sizes["new"])
        assert [path.name for path in removed] == ["old"]
        assert sorted(entry.path.name for entry in cache.entries()) == ["middle", "new"]

    def test_a_reuse_counts_as_a_use(self, tmp_path: Path) -> None:
        """An entry reused by this run is kept over one stored later but not used since."""
        now = time.time()
        self.entry(tmp_path, "reused", 10_000, now - 300)
        self.entry(tmp_path, "idle", 10_000, now - 100)
        assert cache.lookup("reused") is not None
        sizes = {entry.path.name: entry.bytes for entry in cache.entries()}
        assert [p.name for p in cache.evict(sizes["reused"])] == ["idle"]

    def test_under_the_cap_nothing_goes(self, tmp_path: Path) -> None:
        self.entry(tmp_path, "one", 1000, time.time())
        assert cache.evict(cache.DEFAULT_MAX_BYTES) == []

    def test_the_cap_from_the_environment(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv(cache.MAX_ENV, "5000000")
        assert cache.max_bytes() == 5_000_000


class TestCommandLine:
    def test_info_on_an_empty_cache(
        self, capsys: pytest.CaptureFixture[str], cache_home: Path
    ) -> None:
        """`packmatrix cache info`: one line, builds, size, location and cap."""
        assert main(["cache", "info"]) == 0
        out = capsys.readouterr().out.strip()
        assert out.startswith("artifact cache: 0 build(s)")
        assert str(cache_home / "packmatrix" / "artifacts") in out
        assert "\n" not in out

    def test_info_counts_entries(self, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
        built = built_in(tmp_path / "out")
        cache.store("k1", built, run_id="r", commands=[])
        assert main(["cache", "info"]) == 0
        assert "1 build(s)" in capsys.readouterr().out

    def test_clear_removes_only_the_cached_builds(
        self, tmp_path: Path, capsys: pytest.CaptureFixture[str], cache_home: Path
    ) -> None:
        """`packmatrix cache clear`: builds and facts go; downloaded wheels and anything else
        in the cache home stay."""
        cache.store("k1", built_in(tmp_path / "out"), run_id="r", commands=[])
        cache.write_facts("f1", {"x": 1})
        wheels = cache_home / "packmatrix" / "wheels" / "py311" / "flask.whl"
        wheels.parent.mkdir(parents=True)
        wheels.write_bytes(b"wheel")
        other = cache_home / "pip" / "keep"
        other.parent.mkdir(parents=True)
        other.write_bytes(b"not ours")
        assert main(["cache", "clear"]) == 0
        out = capsys.readouterr().out.strip()
        assert out.startswith("removed 1 cached build(s)")
        assert "\n" not in out
        assert not cache.artifacts_dir().exists()
        assert not cache.facts_dir().exists()
        assert wheels.exists()
        assert other.exists()

    def test_a_malformed_cap_is_one_line(
        self, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
    ) -> None:
        """A cap that is not a number of bytes stops the run before any work."""
        monkeypatch.setenv(cache.MAX_ENV, "2GB")
        assert main(["run", "--app", str(SAMPLE_APP), "--formats", "wheel"]) == 2
        err = capsys.readouterr().err
        assert "PACKMATRIX_CACHE_MAX='2GB' is not a size in bytes" in err
        assert "Traceback" not in err


class TestReportSaysCached:
    @staticmethod
    def cached_report() -> Report:
        data = json.loads((FIXTURES / "venv-pex.json").read_text(encoding="utf-8"))
        doc = Report.from_json(data)
        first = next(row for row in doc.formats if row.build is not None)
        assert first.build is not None
        first.build = dataclasses.replace(
            first.build,
            cached=True,
            original_seconds=2.1,
            cached_from="20261202T120000Z-abc123",
            cached_at="2026-12-02T12:00:05+00:00",
        )
        return doc

    def test_json_round_trip_and_schema(self) -> None:
        """The cached build record is typed, validates, and reads back unchanged."""
        written = self.cached_report().to_json()
        report.validate(written)
        build = next(row["build"] for row in written["formats"] if "build" in row)
        assert build["cached"] is True
        assert build["cached_from"] == "20261202T120000Z-abc123"
        assert Report.from_json(written).to_json() == written

    def test_table_and_sections(self, tmp_path: Path) -> None:
        """The build cell says "(cached)"; the format's section says where it came from, in
        the Markdown and the HTML alike."""
        doc = self.cached_report()
        rows = report.table_rows(doc)
        assert rows[0].cells["build_seconds"].endswith(" (cached)")
        assert not any(row.cells["build_seconds"].endswith("(cached)") for row in rows[1:])
        report.save(doc, tmp_path)
        for name in ("matrix.md", "matrix.html"):
            text = (tmp_path / name).read_text(encoding="utf-8")
            assert "(cached)" in text, name
            assert "Reused from the artifact cache (built in" in text, name
            assert "-m build --wheel" in text, name  # the command that made the reused build
            assert "2026-12-02T12:00:05+00:00" in text, name
