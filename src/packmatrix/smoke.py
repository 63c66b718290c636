"""The one smoke test every artifact must pass: the same HTTP checks, whatever the format."""

from __future__ import annotations

import http.client
import json
from dataclasses import dataclass

from packmatrix.appspec import Check
from packmatrix.records import CheckResult


@dataclass(frozen=True)
class Response:
    status: int
    content_type: str
    body: bytes


def get(host: str, port: int, path: str, *, timeout: float = 5.0) -> Response:
    """One GET on loopback; no proxies, no redirects followed."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        answer = conn.getresponse()
        return Response(answer.status, answer.getheader("Content-Type", ""), answer.read())
    finally:
        conn.close()


def run_checks(host: str, port: int, checks: tuple[Check, ...]) -> list[CheckResult]:
    """Run every check; a failure names the check and shows what came back."""
    results = []
    for check in checks:
        try:
            response = get(host, port, check.path)
        except (OSError, http.client.HTTPException) as exc:
            results.append(
                CheckResult(name=check.name, path=check.path, ok=False, detail=f"no answer: {exc}")
            )
            continue
        problem = judge(check, response)
        detail = problem or f"{response.status} {response.content_type}".strip()
        results.append(
            CheckResult(name=check.name, path=check.path, ok=problem is None, detail=detail)
        )
    return results


def judge(check: Check, response: Response) -> str | None:
    """What is wrong with ``response`` for ``check``, or None when it passes."""
    text = response.body.decode("utf-8", errors="replace")
    if response.status != check.status:
        return f"expected HTTP {check.status}, got {response.status}: {_excerpt(text)}"
    if check.content_type and not response.content_type.startswith(check.content_type):
        return f"expected Content-Type {check.content_type}, got {response.content_type or 'none'}"
    for needle in check.contains:
        if needle not in text:
            return f"body lacks {needle!r}: {_excerpt(text)}"
    if check.json:
        try:
            payload = json.loads(text)
        except ValueError:
            return f"body is not JSON: {_excerpt(text)}"
        if not isinstance(payload, dict):
            return f"JSON body is not an object: {_excerpt(text)}"
        for key, expected in check.json.items():
            if payload.get(key) != expected:
                return f"JSON field {key!r} is {payload.get(key)!r}, expected {expected!r}"
    return None


def _excerpt(text: str, limit: int = 160) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1] + "…"
