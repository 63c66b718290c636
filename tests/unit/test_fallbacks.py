"""Which compiled modules a distribution can do without, read from its code: each case is a small
site-packages written here in the shape of a real project's wheel (MarkupSafe's guarded import,
PyYAML's guarded module that imports the extension, SQLAlchemy 1.4's function called under a
guard, Cython's and mypyc's ``.py`` twins), and what the grid predicts from it on arm64."""

from __future__ import annotations

import dataclasses
import textwrap
from collections.abc import Callable

import pytest

from packmatrix.grid.judge import predict
from packmatrix.model.records import Portability
from packmatrix.reading.fallbacks import optional_native
from tests.unit.test_arm64 import facts

X86 = "cpython-311-x86_64-linux-gnu.so"


def site(dist: str, files: dict[str, str], prefix: str = "") -> dict[str, Callable[[], bytes]]:
    """A site-packages of one distribution: its files (a compiled module's text is ignored) and
    the dist-info RECORD that lists them, keyed by path under ``prefix``."""
    info = f"{dist}-1.0.dist-info"
    record = "".join(f"{name},sha256=x,1\n" for name in files) + f"{info}/RECORD,,\n"
    every = {**files, f"{info}/RECORD": record, "../../bin/tool": ""}
    return {f"{prefix}{name}": _reader(text) for name, text in every.items()}


def _reader(text: str) -> Callable[[], bytes]:
    return lambda: textwrap.dedent(text).encode()


def optional(files: dict[str, Callable[[], bytes]]) -> list[str]:
    return [found.describe() for found in optional_native(files)]


MARKUPSAFE = {
    "markupsafe/__init__.py": """
        try:
            from ._speedups import _escape_inner
        except ImportError:
            from ._native import _escape_inner
        """,
    "markupsafe/_native.py": "def _escape_inner(s): return s\n",
    f"markupsafe/_speedups.{X86}": "",
}


class TestOptionalNative:
    def test_an_import_inside_try_except_import_error(self) -> None:
        assert optional(site("MarkupSafe", MARKUPSAFE, prefix="site-packages/")) == [
            "markupsafe (markupsafe._speedups: try/except ImportError in markupsafe)"
        ]

    def test_an_unguarded_import_is_needed(self) -> None:
        files = {
            "fast/__init__.py": "from fast._core import add\n",
            f"fast/_core.{X86}": "",
        }
        assert optional(site("fast", files)) == []

    @pytest.mark.parametrize(
        "handler",
        ["except:", "except Exception:", "except (OSError, ImportError) as e:",
         "except ModuleNotFoundError:", "except builtins.ImportError:"],
    )  # fmt: skip
    def test_handlers_that_catch_a_failed_import(self, handler: str) -> None:
        files = {
            "fast/__init__.py": f"try:\n    import fast._core\n{handler}\n    pass\n",
            f"fast/_core.{X86}": "",
        }
        assert optional(site("fast", files)) == [
            "fast (fast._core: try/except ImportError in fast)"
        ]

    def test_a_handler_for_something_else_is_no_guard(self) -> None:
        files = {
            "fast/__init__.py": "try:\n    import fast._core\nexcept ValueError:\n    pass\n",
            f"fast/_core.{X86}": "",
        }
        assert optional(site("fast", files)) == []

    def test_an_import_in_the_handler_itself_is_not_guarded(self) -> None:
        files = {
            "fast/__init__.py": """
                try:
                    import json
                except ImportError:
                    from . import _core
                """,
            f"fast/_core.{X86}": "",
        }
        assert optional(site("fast", files)) == []

    def test_a_module_only_imported_under_a_guard_guards_its_imports(self) -> None:
        """PyYAML's shape: ``yaml/cyaml.py`` imports ``yaml._yaml`` plainly, and ``yaml``
        imports ``cyaml`` inside try/except ImportError."""
        files = {
            "yaml/__init__.py": """
                try:
                    from .cyaml import *
                    __with_libyaml__ = True
                except ImportError:
                    __with_libyaml__ = False
                """,
            "yaml/cyaml.py": "from yaml._yaml import CParser\n",
            f"yaml/_yaml.{X86}": "",
        }
        assert optional(site("PyYAML", files)) == [
            "pyyaml (yaml._yaml: try/except ImportError in yaml.cyaml)"
        ]

    def test_one_plain_importer_anywhere_makes_it_needed(self) -> None:
        """PyYAML's real wheel also ships ``_yaml/__init__.py``, a top-level shim that imports
        the extension plainly: it counts, since anyone may import it."""
        files = {
            "yaml/__init__.py": "try:\n    from .cyaml import *\nexcept ImportError:\n    pass\n",
            "yaml/cyaml.py": "from yaml._yaml import CParser\n",
            "_yaml/__init__.py": "from yaml._yaml import *\n",
            f"yaml/_yaml.{X86}": "",
        }
        assert optional(site("PyYAML", files)) == []

    def test_a_function_only_called_under_a_guard(self) -> None:
        """SQLAlchemy 1.4's shape: the imports sit in a function, called inside a try."""
        files = {
            "sqlalchemy/util/_has_cy.py": """
                def _import_cy_extensions():
                    from ..cyextension import collections
                    return (collections,)

                try:
                    _CYEXTENSION = _import_cy_extensions()
                    HAS_CYEXTENSION = True
                except ImportError:
                    HAS_CYEXTENSION = False
                """,
            f"sqlalchemy/cyextension/collections.{X86}": "",
        }
        assert optional(site("SQLAlchemy", files)) == [
            "sqlalchemy (sqlalchemy.cyextension.collections: try/except ImportError in "
            "sqlalchemy.util._has_cy)"
        ]

    def test_a_function_also_called_plainly(self) -> None:
        files = {
            "fast/__init__.py": """
                def load():
                    from fast import _core
                try:
                    load()
                except ImportError:
                    pass
                load()
                """,
            f"fast/_core.{X86}": "",
        }
        assert optional(site("fast", files)) == []

    def test_a_py_twin_beside_an_interpreter_tagged_module(self) -> None:
        """Cython's pure-Python mode and mypyc (SQLAlchemy 2.1, charset-normalizer): another
        Python or machine never looks for ``md.cpython-311-x86_64-linux-gnu.so`` and imports
        ``md.py``."""
        files = {
            "charset_normalizer/__init__.py": "from .md import mess_ratio\n",
            "charset_normalizer/md.py": "def mess_ratio(): pass\n",
            f"charset_normalizer/md.{X86}": "",
        }
        assert optional(site("charset-normalizer", files)) == [
            "charset-normalizer (charset_normalizer.md: a .py of the same name beside it)"
        ]

    def test_an_abi3_module_is_loaded_by_every_python_and_so_is_no_twin(self) -> None:
        files = {
            "fast/__init__.py": "from .core import add\n",
            "fast/core.py": "def add(): pass\n",
            "fast/core.abi3.so": "",
        }
        assert optional(site("fast", files)) == []

    def test_a_module_nobody_imports_by_name_is_not_known_to_be_optional(self) -> None:
        files = {
            "fast/__init__.py": "import importlib\n_core = importlib.import_module('fast._core')\n",
            f"fast/_core.{X86}": "",
        }
        assert optional(site("fast", files)) == []

    def test_every_compiled_module_must_be_optional(self) -> None:
        files = {
            "fast/__init__.py": "try:\n    from . import _a\nexcept ImportError:\n    pass\n"
            "from . import _b\n",
            f"fast/_a.{X86}": "",
            f"fast/_b.{X86}": "",
        }
        assert optional(site("fast", files)) == []

    def test_vendored_libraries_are_not_modules(self) -> None:
        files = {
            **MARKUPSAFE,
            "markupsafe.libs/libfast-1a2b3c.so.1.0": "",
            "markupsafe.libs/libother-9f.so": "",
        }
        assert len(optional(site("MarkupSafe", files))) == 1

    def test_pure_python_distributions_are_left_out(self) -> None:
        assert optional(site("flask", {"flask/__init__.py": "import markupsafe\n"})) == []

    def test_code_that_does_not_parse_is_passed_by(self) -> None:
        files = {**MARKUPSAFE, "markupsafe/py2.py": "print 'old'\n"}
        assert len(optional(site("MarkupSafe", files))) == 1


def shiv(optional_native: list[str] | None) -> Portability:
    """The facts of a real shiv of the sample app (x86_64 MarkupSafe inside), with these."""
    return dataclasses.replace(facts("shiv"), optional_native=optional_native)


MARKUPSAFE_OPTIONAL = ["markupsafe (markupsafe._speedups: try/except ImportError in markupsafe)"]


class TestPrediction:
    def test_an_optional_dist_runs_as_pure_python_on_another_machine(self) -> None:
        facts = shiv(MARKUPSAFE_OPTIONAL)
        found = predict(facts, glibc="2.36", python="3.11", arch="aarch64")
        assert found is not None
        assert (found.runs, found.why) == (
            True,
            "glibc 2.36 ≥ 2.14, Python 3.11 fits, markupsafe runs as pure Python "
            "(compiled modules optional)",
        )

    def test_on_its_own_machine_nothing_is_said(self) -> None:
        facts = shiv(MARKUPSAFE_OPTIONAL)
        found = predict(facts, glibc="2.36", python="3.11", arch="x86_64")
        assert found is not None
        assert "pure Python" not in found.why

    def test_without_the_fact_the_wheel_decides(self) -> None:
        found = predict(shiv(None), glibc="2.36", python="3.11", arch="aarch64")
        assert found is not None
        assert (found.runs, found.why) == (
            False,
            "markupsafe has wheels for x86_64 only, the target is aarch64",
        )

    def test_the_shebang_still_decides_another_python(self) -> None:
        facts = shiv(MARKUPSAFE_OPTIONAL)
        found = predict(facts, glibc="2.36", python="3.12", arch="aarch64")
        assert found is not None
        assert not found.runs
        assert "shebang asks for python3.11" in found.why
