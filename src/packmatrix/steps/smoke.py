"""The one smoke test every artifact must pass: the same HTTP checks, whatever the format."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass, field
from typing import Any, Final

from packmatrix.core.checks import Check
from packmatrix.model.records import CheckResult

REQUEST_TIMEOUT: Final = 30.0
"""Seconds one smoke request may take: a heavy app's first request imports what its route
needs (pandas' groupby, a time-zone database) on cores other builds keep busy."""


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes
    headers: dict[str, str] = field(default_factory=dict)


def request(
    host: str,
    port: int,
    path: str,
    *,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    body: bytes | None = None,
    timeout: float = REQUEST_TIMEOUT,
) -> Response:
    """One request on loopback; no proxies, no redirects followed."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request(method, path, body=body, headers={"Connection": "close", **(headers or {})})
        answer = conn.getresponse()
        return Response(
            answer.status,
            answer.getheader("Content-Type", ""),
            answer.read(),
            {name.lower(): value for name, value in answer.getheaders()},
        )
    finally:
        conn.close()


def get(host: str, port: int, path: str, *, timeout: float = REQUEST_TIMEOUT) -> Response:
    return request(host, port, path, timeout=timeout)


def run_checks(host: str, port: int, checks: tuple[Check, ...]) -> list[CheckResult]:
    """Run every check; a failure names the check and shows what came back."""
    results = []
    for check in checks:
        body, body_headers = check.request_body()
        try:
            response = request(
                host,
                port,
                check.path,
                method=check.method,
                headers={**body_headers, **check.headers},
                body=body,
            )
        except (OSError, http.client.HTTPException) as exc:
            results.append(
                CheckResult(
                    name=check.name,
                    method=check.method,
                    path=check.path,
                    ok=False,
                    detail=f"no answer: {exc}",
                )
            )
            continue
        problem = judge(check, response)
        detail = problem or f"{response.status} {response.content_type}".strip()
        results.append(
            CheckResult(
                name=check.name,
                method=check.method,
                path=check.path,
                ok=problem is None,
                detail=detail,
            )
        )
    return results


_MISSING = object()


def judge(check: Check, response: Response) -> str | None:
    """What is wrong with ``response`` for ``check``, or None when it passes."""
    text = response.body.decode("utf-8", errors="replace")
    if response.status != check.status:
        return f"expected HTTP {check.status}, got {response.status}: {_excerpt(text)}"
    if check.content_type and not response.content_type.startswith(check.content_type):
        return f"expected Content-Type {check.content_type}, got {response.content_type or 'none'}"
    if check.location is not None:
        location = response.headers.get("location")
        if location is None:
            return f"expected a redirect to {check.location!r}, got no Location header"
        if location != check.location and not location.endswith(check.location):
            return f"expected Location {check.location!r}, got {location!r}"
    for needle in check.contains:
        if needle not in text:
            return f"body lacks {needle!r}: {_excerpt(text)}"
    for needle in check.not_contains:
        if needle in text:
            return f"body contains {needle!r}, which it must not: {_excerpt(text)}"
    if check.json:
        try:
            payload = json.loads(text)
        except ValueError:
            return f"body is not JSON: {_excerpt(text)}"
        if not isinstance(payload, dict):
            return f"JSON body is not an object: {_excerpt(text)}"
        for key, expected in flatten(check.json):
            found = field_at(payload, key)
            if found is _MISSING:
                return f"JSON field {key!r} is missing: {_excerpt(text)}"
            if found != expected:
                return f"JSON field {key!r} is {found!r}, expected {expected!r}"
    return None


def flatten(expected: dict[str, Any], prefix: str = "") -> list[tuple[str, Any]]:
    """Expected fields as dotted keys: a nested table expects its fields, not equality."""
    found: list[tuple[str, Any]] = []
    for key, value in expected.items():
        if isinstance(value, dict) and value:
            found.extend(flatten(value, f"{prefix}{key}."))
        else:
            found.append((f"{prefix}{key}", value))
    return found


def field_at(payload: Any, dotted: str) -> Any:
    """The value at a dotted key (``a.b.0.c``): a plain key first, then the path."""
    if isinstance(payload, dict) and dotted in payload:
        return payload[dotted]
    node = payload
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return _MISSING
    return node


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
