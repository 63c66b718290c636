"""packmatrix: package one Python web app every way people ship Python, and compare."""

from __future__ import annotations

__version__ = "0.1.0"
