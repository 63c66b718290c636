"""``run --baseline-ref``, for real: a tiny app in a subfolder of a git repository, one commit
that slows its import down by 300 ms. Against the commit before, the wheel's warm start is a
regression found side by side (A B A B) and the comment says so; against itself, no regression.
Both runs go into one history. Cost: four wheel builds of a standard-library app (the second
run reuses both from the artifact cache), about a minute on a quiet 2-core machine."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from packmatrix.cli.main import main
from packmatrix.compare import comment
from packmatrix.compare.reports import COMMENT_FILE
from packmatrix.model.load import load_report
from packmatrix.report import history

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
SLOWDOWN = "\nimport time as _time\n\n_time.sleep(0.3)  # a slowdown at import\n"


def git(folder: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(folder), "-c", "user.email=t@t", "-c", "user.name=t", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


@pytest.fixture(scope="module", name="repo")
def _repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    repo = tmp_path_factory.mktemp("gate") / "repo"
    shutil.copytree(REPO / "tests" / "apps" / "tiny", repo / "app")
    git(repo, "init", "-q")
    git(repo, "add", ".")
    git(repo, "commit", "-qm", "tiny")
    init = repo / "app" / "tiny" / "__init__.py"
    init.write_text(init.read_text(encoding="utf-8") + SLOWDOWN, encoding="utf-8")
    git(repo, "commit", "-qam", "slow import")
    return repo


def run(repo: Path, ref: str, reports: Path, db: Path) -> int:
    return main(
        [
            "run", "--app", str(repo / "app"), "--formats", "wheel", "--targets", "none",
            "--runs", "3", "--warm-budget", "0", "--reports", str(reports),
            "--baseline-ref", ref, "--history", str(db),
        ]
    )  # fmt: skip


def test_a_slowdown_against_the_ref_before_then_none_against_itself(
    repo: Path, tmp_path: Path
) -> None:
    db = tmp_path / "h.sqlite"
    assert run(repo, "HEAD~1", tmp_path / "slow", db) == 1
    text = (tmp_path / "slow" / COMMENT_FILE).read_text(encoding="utf-8")
    assert text.startswith(comment.MARKER + "\n### packmatrix: ⚠ 1 regression in wheel")
    assert len(text.encode()) < 65_536
    (row,) = [line for line in text.splitlines() if line.startswith("| wheel | warm start |")]
    assert row.endswith("⚠ regression (A B A B) |")
    doc = load_report(tmp_path / "slow" / "matrix.json")
    assert doc.run.options["baseline_ref"]["commit"] == git(repo, "rev-parse", "HEAD~1")
    assert doc.fingerprint is not None
    base = load_report(tmp_path / "slow" / "baseline" / "matrix.json")
    assert base.fingerprint == doc.fingerprint
    assert len(git(repo, "worktree", "list").splitlines()) == 1  # the checkout is gone

    assert run(repo, "HEAD", tmp_path / "same", db) == 0
    text = (tmp_path / "same" / COMMENT_FILE).read_text(encoding="utf-8")
    assert text.splitlines()[1].startswith("### packmatrix: ✓ no regression")
    assert len(history.runs(db)) == 2
