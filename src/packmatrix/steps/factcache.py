"""Facts that depend only on an artifact's bytes, read once and kept by its sha256: the
portability facts (the lock check's input), the secrets found inside and the SBOM.

A venv format's portability is read from the venv the artifact was installed into, which the
lock also shapes: its key holds the lock too. Without the artifact cache (a library caller's
default) every fact is read afresh.
"""

from __future__ import annotations

import json

from packmatrix.core.atomic import write_atomic
from packmatrix.core.context import Context
from packmatrix.formats.base import Built, Deployment, Format
from packmatrix.model.facts import Finding, SecurityFacts
from packmatrix.model.records import Portability
from packmatrix.steps import cache, cachekey
from packmatrix.steps.inspection import security_facts
from packmatrix.steps.sbom import Written, write_sbom


def _lock_text(ctx: Context) -> str:
    return "".join(f"{entry.name}=={entry.version} {entry.sha256}\n" for entry in ctx.lock)


def _portability_key(fmt: Format, ctx: Context, built: Built, shas: list[str]) -> str:
    image = [built.image.id, json.dumps(built.image.base.to_json())] if built.image else []
    return cache.facts_key(
        "portability", [fmt.name, cachekey.format_options(fmt, ctx), _lock_text(ctx), *shas, *image]
    )


def _security_key(built: Built, shas: list[str]) -> str:
    return cache.facts_key(
        "security-attributed", [*shas, *(built.image.base_layers if built.image else [])]
    )


def _sbom_key(fmt: Format, ctx: Context, built: Built, shas: list[str]) -> str:
    """The SBOM is read from the artifact (and, for a venv format, from the venv the lock
    shaped), dated SOURCE_DATE_EPOCH, written by packmatrix's code."""
    parts = [fmt.name, cachekey.format_options(fmt, ctx), _lock_text(ctx), *shas]
    parts += [built.image.id, *built.image.base_layers] if built.image else []
    parts += [ctx.source_date_epoch, ctx.app.name, ctx.app.version, cachekey.code_digest()]
    return cache.facts_key("sbom", parts)


def known(fmt: Format, ctx: Context, built: Built, shas: list[str]) -> bool:
    """Whether every fact read from this artifact is kept (a row then needs no deployment to
    be inspected: ``measurecache``)."""
    if not ctx.options.artifact_cache or not shas:
        return False
    keys = (_portability_key(fmt, ctx, built, shas), _security_key(built, shas))
    return all(cache.read_facts(key) is not None for key in keys) and isinstance(
        cache.read_facts(_sbom_key(fmt, ctx, built, shas)), dict
    )


def cached_sbom(
    fmt: Format,
    ctx: Context,
    built: Built,
    deployment: Deployment | None,
    traced: list[str] | None,
    shas: list[str],
) -> Written:
    """``write_sbom``, its text reused when the same artifact was read before; ``deployment``
    may be None only when it was (``known``)."""
    key = _sbom_key(fmt, ctx, built, shas) if ctx.options.artifact_cache and shas else None
    kept = cache.read_facts(key) if key else None
    if isinstance(kept, dict):
        try:
            text, relative, installed = kept["text"], kept["relative"], kept["installed"]
        except KeyError:
            pass
        else:
            write_atomic(ctx.logs.parent / relative, text)
            return Written(relative=str(relative), installed=[str(item) for item in installed])
    if deployment is None:
        raise ValueError(f"the SBOM of {fmt.name} is not kept and it was not deployed")
    written = write_sbom(ctx, fmt.name, built, deployment, traced)
    if key is not None:
        text = (ctx.logs.parent / written.relative).read_text(encoding="utf-8")
        data = {"text": text, "relative": written.relative, "installed": written.installed}
        cache.write_facts(key, data)
    return written


def cached_portability(
    fmt: Format, ctx: Context, built: Built, deployment: Deployment | None, shas: list[str]
) -> Portability:
    """``fmt.inspect``, reused when the same artifact bytes were inspected before (an image:
    the same image, on the same base); ``deployment`` may be None only when they were."""
    if not ctx.options.artifact_cache or not shas:
        return fmt.inspect(ctx, built, _deployed(fmt, deployment))
    key = _portability_key(fmt, ctx, built, shas)
    known = cache.read_facts(key)
    if isinstance(known, dict):
        try:
            return Portability.from_json(known)
        except (KeyError, TypeError, ValueError):
            pass
    found = fmt.inspect(ctx, built, _deployed(fmt, deployment))
    cache.write_facts(key, found.to_json())
    return found


def _deployed(fmt: Format, deployment: Deployment | None) -> Deployment:
    if deployment is None:
        raise ValueError(f"the facts of {fmt.name} are not kept and it was not deployed")
    return deployment


def cached_security(
    ctx: Context, built: Built, listening: list[str], shas: list[str]
) -> SecurityFacts:
    """Secrets and VCS files inside the artifact, reused by its bytes; where it listened."""
    if not ctx.options.artifact_cache or not shas:
        return security_facts(built, listening)
    key = _security_key(built, shas)
    known = cache.read_facts(key)
    if isinstance(known, list):
        try:
            findings = [Finding.from_json(item) for item in known]
        except (KeyError, TypeError, ValueError):
            pass
        else:
            return SecurityFacts.of(findings, listening)
    found = security_facts(built, listening)
    every = [*found.findings, *found.base_findings]
    cache.write_facts(key, [finding.to_json() for finding in every])
    return found
