"""Text transforms loaded by name when a request asks for one (``/api/transform/<name>``).

Nothing imports these modules statically: like the plugins of many real apps, each is found
with ``importlib.import_module`` at request time. A packager that only follows import
statements (PyInstaller's analysis) misses them unless told to ship the whole package.
"""

AVAILABLE = ("upper", "reverse")
"""The plugin modules of this package; a request for any other name is a 404."""
