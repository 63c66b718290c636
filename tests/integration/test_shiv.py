"""shiv and the two profiles, for real: the zipapp built from the lock, started outside the tree
with a private SHIV_ROOT, read back for the lock check; then shiv and pex built plain and tuned,
each recorded with the options its profile chose, kept in the artifact cache by them (pex twice,
shiv, which both profiles build alike, once) and compared."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from packmatrix.cli.main import main
from packmatrix.grid.judge import predict
from packmatrix.model.records import Portability
from packmatrix.report import render as report
from packmatrix.steps import cache

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]


def run(reports: Path, profile: str) -> dict[str, Any]:
    argv = ["run", "--app", str(REPO / "sample_app"), "--formats", "pex,shiv", "--profile", profile,
            "--targets", "none"]  # fmt: skip
    assert main([*argv, "--runs", "2", "--warm-budget", "0", "--reports", str(reports)]) == 0
    doc: dict[str, Any] = json.loads((reports / "matrix.json").read_text(encoding="utf-8"))
    report.validate(doc)
    return doc


def kept(before: set[str], suffix: str) -> int:
    """Builds the artifact cache kept since ``before`` whose file ends with ``suffix``."""
    return sum(
        1
        for entry in cache.entries()
        if entry.path.name not in before and any(entry.path.glob(f"files/*{suffix}"))
    )


@pytest.fixture(scope="module", name="runs")
def _runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """A plain run, then a tuned one, of pex and shiv, with an artifact cache of their own (the
    session's may hold these builds from other tests); where their reports are."""
    home = tmp_path_factory.mktemp("own-cache")
    (home / "packmatrix").mkdir()
    (home / "packmatrix" / "wheels").symlink_to(cache.root() / "wheels")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("XDG_CACHE_HOME", str(home))
        before = {entry.path.name for entry in cache.entries()}
        reports = {name: tmp_path_factory.mktemp(name) for name in ("plain", "tuned")}
        docs = {name: run(folder, name) for name, folder in reports.items()}
        kept_now = {suffix: kept(before, suffix) for suffix in (".pex", ".pyz")}
    return {
        "docs": docs,
        "rows": {name: {row["name"]: row for row in doc["formats"]} for name, doc in docs.items()},
        "reports": reports,
        "kept": kept_now,
    }


def shiv(runs: dict[str, Any], profile: str = "tuned") -> dict[str, Any]:
    row: dict[str, Any] = runs["rows"][profile]["shiv"]
    return row


class TestShiv:
    def test_passes_every_check(self, runs: dict[str, Any]) -> None:
        for profile in ("plain", "tuned"):
            row = shiv(runs, profile)
            assert (row["name"], row["status"], row["reason"]) == ("shiv", "passed", None)
            assert row["checks"]
            assert all(check["ok"] for check in row["checks"])
            assert row["health"]["frozen"] is False
            assert row["health"]["cwd"] == "<place>"

    def test_built_offline_from_the_lock(self, runs: dict[str, Any]) -> None:
        """``shiv --console-script`` with pip's ``--no-index`` and the run's wheelhouse."""
        (argv,) = shiv(runs)["build"]["commands"]
        assert argv[1:3] == ["-m", "shiv"]
        assert argv[argv.index("--console-script") + 1] == "sample-app"
        assert "--no-index" in argv
        assert argv[argv.index("--find-links") + 1] == "$WORK/wheelhouse"

    def test_extracts_into_its_private_shiv_root(self, runs: dict[str, Any]) -> None:
        """Each launch names its own SHIV_ROOT; what it extracted there is the footprint."""
        row = shiv(runs)
        assert row["launch"]["env_extra"] == {"SHIV_ROOT": "<place>/shiv_root"}
        assert row["launch"]["footprint_label"] == "SHIV_ROOT extraction after the first start"
        assert row["figures"]["footprint_bytes"] > row["figures"]["artifact_bytes"]
        assert row["figures"]["startup"]["cold"]["n"] == 1
        assert row["figures"]["startup"]["warm"]["n"] == 2

    def test_lock_check_reads_the_zipapp(self, runs: dict[str, Any]) -> None:
        """Every dist-info inside is a locked distribution at its version, plus the app."""
        doc, row = runs["docs"]["tuned"], shiv(runs)
        locked = sorted(f"{dep['name']}=={dep['version']}" for dep in doc["lock"])
        assert row["lock_check"]["matches"] is True, row["lock_check"]
        assert row["portability"]["distributions"] == sorted([*locked, "sample-app==1.0.0"])

    def test_needs_python_and_ships_one_platform_wheel(self, runs: dict[str, Any]) -> None:
        facts = shiv(runs)["portability"]
        assert facts["shebang"] == "#!/usr/bin/env python3.11"
        assert facts["needs"] == "a Python interpreter on PATH (/usr/bin/env python3.11)"
        assert [wheel.lower()[:10] for wheel in facts["platform_wheels"]] == ["markupsafe"]
        assert facts["glibc_floor"]["version"].startswith("GLIBC_2.")

    def test_markupsafe_can_do_without_its_compiled_module(self, runs: dict[str, Any]) -> None:
        """Read from the real MarkupSafe inside: ``_speedups`` is imported under try/except
        ImportError, so on aarch64 the x86_64 wheel is no reason to fail (shiv does not check
        wheel tags); pure Python takes over, and the prediction says so."""
        facts = Portability.from_json(shiv(runs)["portability"])
        assert facts.optional_native == [
            "markupsafe (markupsafe._speedups: try/except ImportError in markupsafe)"
        ]
        found = predict(facts, glibc="2.36", python="3.11", arch="aarch64")
        assert found is not None
        assert found.runs, found.why
        assert found.why.endswith("markupsafe runs as pure Python (compiled modules optional)")


class TestProfiles:
    def test_each_run_records_its_profile_and_options(self, runs: dict[str, Any]) -> None:
        plain, tuned = runs["rows"]["plain"]["pex"], runs["rows"]["tuned"]["pex"]
        assert runs["docs"]["plain"]["run"]["options"]["profile"] == "plain"
        assert runs["docs"]["tuned"]["run"]["options"]["profile"] == "tuned"
        assert plain["build"]["profile_options"] == []
        assert tuned["build"]["profile_options"] == ["--sh-boot"]
        assert "--sh-boot" in tuned["build"]["commands"][0]
        assert "--sh-boot" not in plain["build"]["commands"][0]
        assert (
            tuned["portability"]["needs"]
            == "a Python interpreter on PATH (/bin/sh, then python3.11)"
        )
        assert tuned["health"]["pex"] is True

    def test_the_cache_keys_builds_by_their_options(self, runs: dict[str, Any]) -> None:
        """Two pexes kept; the tuned run reused the one zipapp both profiles build alike."""
        assert runs["kept"] == {".pex": 2, ".pyz": 1}
        assert runs["rows"]["tuned"]["shiv"]["build"]["cached"] is True
        assert not runs["rows"]["tuned"]["pex"]["build"].get("cached")

    def test_the_report_shows_the_options(self, runs: dict[str, Any]) -> None:
        text = (runs["reports"]["tuned"] / "matrix.md").read_text(encoding="utf-8")
        assert "Options the profile chose (tuned): `--sh-boot`." in text
        assert "Options the profile chose (tuned): none, the tool's defaults." in text

    def test_compare_plain_with_tuned(
        self, runs: dict[str, Any], capsys: pytest.CaptureFixture[str]
    ) -> None:
        """compare reads two profiles as what tuning changes, not as an error."""
        plain, tuned = (runs["reports"][name] / "matrix.json" for name in ("plain", "tuned"))
        code = main(["compare", str(plain), str(tuned)])
        out = capsys.readouterr().out
        assert out.startswith("### packmatrix: profile plain → tuned\n")
        assert "|  | options | none, the tool's defaults | --sh-boot |" in out
        assert out.count("| options |") == 1  # shiv's options are the same in both
        assert code in (0, 1)  # 1 only when tuning cost more than the thresholds allow
