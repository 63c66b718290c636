"""What is checked by reading an artifact after it ran: the lock, the security facts, and on
request a second build compared byte for byte."""

from __future__ import annotations

import shlex
import shutil
from typing import Final, Protocol

from packmatrix.core.context import Context
from packmatrix.core.names import normalize
from packmatrix.formats.base import Built
from packmatrix.model.facts import LockCheck, Reproducibility, SecurityFacts
from packmatrix.reading.reproducible import compare
from packmatrix.reading.security import scan_artifact


def lock_check(ctx: Context, distributions: list[str] | None) -> LockCheck:
    """Compare the distributions read from the artifact with the run's lock."""
    if distributions is None:
        return LockCheck(checked=False, matches=None, detail="the artifact lists no distributions")
    found = {}
    for item in distributions:
        name, _, version = item.partition("==")
        if normalize(name) not in ctx.own_names:  # the app, and the launcher packmatrix made
            found[normalize(name)] = version
    locked = {entry.name: entry.version for entry in ctx.lock}
    missing = sorted(set(locked) - set(found))
    unexpected = sorted(set(found) - set(locked))
    different = sorted(
        f"{name} {found[name]} (lock: {locked[name]})"
        for name in set(found) & set(locked)
        if found[name] != locked[name]
    )
    problems = [
        *(f"missing {name}" for name in missing),
        *(f"not in the lock: {name}" for name in unexpected),
        *(f"version differs: {text}" for text in different),
    ]
    return LockCheck(
        checked=True,
        matches=not problems,
        detail="; ".join(problems) or f"all {len(locked)} locked distributions, exact versions",
        missing=missing,
        unexpected=unexpected,
        different=different,
    )


def read_inside(named: list[str] | None, installed: list[str]) -> list[str] | None:
    """The distributions the format's reading named, and those whose metadata was found inside
    the artifact (a planted one the format's reading missed shows up too); None if neither."""
    if named is None and not installed:
        return None
    return sorted({*(named or []), *installed})


def security_facts(built: Built, listening: list[str]) -> SecurityFacts:
    """Secrets and VCS files inside the artifact (its file list and contents); where it listened.
    In an image, what the base image's layers ship is told apart from the app's."""
    base = built.image.base_layers if built.image else []
    findings = [finding for root in built.roots for finding in scan_artifact(root, base)]
    return SecurityFacts.of(findings, listening)


KNOWN_CAUSES: Final = {
    "sdist": "setuptools writes time.time() into the sdist's gzip header and ignores "
    "SOURCE_DATE_EPOCH there (setuptools issue 2133); hatchling, flit_core and poetry-core "
    "honour it. --normalize-sdist repacks the sdist reproducibly.",
    "nuitka": "best effort: Nuitka's C compilation and its onefile payload are not checked "
    "for reproducibility by packmatrix beyond this comparison.",
}
"""Why a format's builds are known to differ, and the fix, shown beside the difference."""


class Builder(Protocol):
    """What the reproducibility check needs of a format: its name and its build."""

    @property
    def name(self) -> str: ...

    def build(self, ctx: Context) -> Built: ...


def check_reproducible(fmt: Builder, ctx: Context, built: Built) -> Reproducibility:
    """Build the format a second time and compare the bytes (SOURCE_DATE_EPOCH is set)."""
    aside = ctx.workdir / "first-build" / fmt.name
    aside.mkdir(parents=True, exist_ok=True)
    first = []
    for root in built.roots:
        copy = aside / root.name
        if root.is_dir():
            shutil.copytree(root, copy, symlinks=True)
        else:
            shutil.copy2(root, copy)
        first.append(copy)
    ctx.forget_shared_builds()
    second = fmt.build(ctx).roots
    if len(first) != len(second):
        return Reproducibility(
            identical=False, difference="the two builds made different file sets"
        )
    verdicts = [compare(a, b) for a, b in zip(first, second, strict=True)]
    difference = next((v["difference"] for v in verdicts if not v["identical"]), None)
    differing = next(
        ((a, b) for a, b, v in zip(first, second, verdicts, strict=True) if not v["identical"]),
        None,
    )
    return Reproducibility(
        identical=all(v["identical"] for v in verdicts),
        difference=difference,
        diffoscope=shlex.join(["diffoscope", *map(str, differing)]) if differing else None,
        note=KNOWN_CAUSES.get(fmt.name) if differing else None,
        sha256=[v["sha256_a"] for v in verdicts],
        sha256_second=[v["sha256_b"] for v in verdicts],
        source_date_epoch=ctx.source_date_epoch,
    )
