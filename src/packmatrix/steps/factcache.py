"""Facts that depend only on an artifact's bytes, read once and kept by its sha256: the
portability facts (the lock check's input) and the secrets found inside.

A venv format's portability is read from the venv the artifact was installed into, which the
lock also shapes: its key holds the lock too. Without the artifact cache (a library caller's
default) every fact is read afresh.
"""

from __future__ import annotations

import json

from packmatrix.core.context import Context
from packmatrix.formats.base import Built, Deployment, Format
from packmatrix.model.facts import Finding, SecurityFacts
from packmatrix.model.records import Portability
from packmatrix.steps import cache, cachekey
from packmatrix.steps.inspection import security_facts


def _lock_text(ctx: Context) -> str:
    return "".join(f"{entry.name}=={entry.version} {entry.sha256}\n" for entry in ctx.lock)


def cached_portability(
    fmt: Format, ctx: Context, built: Built, deployment: Deployment, shas: list[str]
) -> Portability:
    """``fmt.inspect``, reused when the same artifact bytes were inspected before (an image:
    the same image, on the same base)."""
    if not ctx.options.artifact_cache or not shas:
        return fmt.inspect(ctx, built, deployment)
    image = [built.image.id, json.dumps(built.image.base.to_json())] if built.image else []
    key = cache.facts_key(
        "portability", [fmt.name, cachekey.format_options(fmt, ctx), _lock_text(ctx), *shas, *image]
    )
    known = cache.read_facts(key)
    if isinstance(known, dict):
        try:
            return Portability.from_json(known)
        except (KeyError, TypeError, ValueError):
            pass
    found = fmt.inspect(ctx, built, deployment)
    cache.write_facts(key, found.to_json())
    return found


def cached_security(
    ctx: Context, built: Built, listening: list[str], shas: list[str]
) -> SecurityFacts:
    """Secrets and VCS files inside the artifact, reused by its bytes; where it listened."""
    if not ctx.options.artifact_cache or not shas:
        return security_facts(built, listening)
    base = built.image.base_layers if built.image else []
    key = cache.facts_key("security-attributed", [*shas, *base])
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
