"""Shared test setup: integration tests run last; in CI nothing that needs a tool is skipped."""

from __future__ import annotations

import os
from typing import Any

import pytest


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Unit tests first, then integration tests (slow), like pypa/build."""
    items.sort(key=lambda item: item.get_closest_marker("integration") is not None)


def in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require(condition: bool, reason: str) -> None:
    """Skip when a tool is missing, except in CI, where the missing tool is a failure."""
    if condition:
        return
    if in_ci():
        pytest.fail(f"{reason} (CI=true: this must not be skipped)")
    pytest.skip(reason)


def docker_client() -> Any:
    """A client of the local Docker Engine; skips (fails in CI) when none answers."""
    docker = pytest.importorskip("docker")
    try:
        client = docker.from_env(timeout=10)
        client.ping()
    except Exception as exc:
        require(False, f"no Docker engine answers: {exc}")
    return client
