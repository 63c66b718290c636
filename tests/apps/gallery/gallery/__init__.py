"""A service on vendored native libraries: Pillow (libjpeg-turbo, zlib, in ``pillow.libs/``),
lxml (libxml2, libxslt) and SQLAlchemy's compiled core on the standard library's sqlite3."""

from __future__ import annotations

__version__ = "0.9.1"
