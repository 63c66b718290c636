"""Distribution names as Python packaging compares them."""

from __future__ import annotations

import re


def normalize(name: str) -> str:
    """PEP 503 normalized distribution name."""
    return re.sub(r"[-_.]+", "-", name).lower()
