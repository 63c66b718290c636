"""The report's JSON, timed: load (text → typed ``Report``) and dump (``Report`` → text).

Two documents: the largest real report of the fixtures (tests/fixtures/platforms/linux.json,
the ten default formats) and a synthetic one made from it with 60 locked distributions, every
format listing them, and the formats repeated to 60 rows (``--rows``). For each: the way
packmatrix reads and writes reports (``json`` + ``Report.from_json`` / ``to_json``), pydantic's
own JSON path on the same model (``validate_json`` / ``dump_json``), and the floor, the JSON text
alone parsed and written untyped by the standard library and by msgspec (when installed: the
fastest parser there is, the bound for any typed model). Then, in a fresh interpreter, what a
one-shot command pays first: importing the model and reading one report (the serializer is
compiled on first use). Prints median (min–max) of ``--repeat`` timings, and the load average,
since the machine may be shared. Judges nothing. Runs on any commit that has
``Report.from_json``/``to_json``, so it measures the hand-written code and its replacement alike.
Usage: ``python benchmarks/serialization.py [--repeat N] [--rows N]``.
"""

from __future__ import annotations

import argparse
import copy
import importlib
import importlib.util
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from packmatrix.model.results import Report

try:  # optional: only for the floor
    msgspec: Any = importlib.import_module("msgspec")
except ImportError:
    msgspec = None

REPO = Path(__file__).resolve().parents[1]
LARGEST = REPO / "tests" / "fixtures" / "platforms" / "linux.json"


def synthetic(doc: dict[str, Any], rows: int) -> dict[str, Any]:
    """``doc`` with 60 locked distributions that every format lists, and ``rows`` format rows."""
    big = copy.deepcopy(doc)
    entry = big["lock"][0]
    big["lock"] = [
        {**entry, "name": f"dist{i}", "version": "1.0", "filename": f"dist{i}-1.0-py3-none-any.whl"}
        for i in range(60)
    ]
    names = [f"dist{i}==1.0" for i in range(60)]
    formats = big["formats"]
    for row in formats:
        facts = row.get("portability")
        if facts and facts.get("distributions") is not None:
            facts["distributions"] = names
    big["formats"] = [
        {
            **copy.deepcopy(formats[i % len(formats)]),
            "name": f"{formats[i % len(formats)]['name']}-{i}",
        }
        for i in range(rows)
    ]
    return big


def timed(work: Callable[[], object], repeat: int) -> str:
    millis = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        millis.append((time.perf_counter() - started) * 1000)
    return spread(millis)


def spread(millis: list[float]) -> str:
    return f"{statistics.median(millis):7.2f} ms ({min(millis):.2f}–{max(millis):.2f})"


def measure(label: str, doc: dict[str, Any], repeat: int) -> None:
    text = json.dumps(doc, indent=2)
    typed = Report.from_json(json.loads(text))
    rows, locked = len(doc["formats"]), len(doc["lock"])
    print(f"{label}: {len(text) / 1e6:.2f} MB, {rows} rows, {locked} locked")

    def line(what: str, work: Callable[[], object]) -> None:
        print(f"  {what:<34}{timed(work, repeat)}")

    line("load  json + Report.from_json", lambda: Report.from_json(json.loads(text)))
    line("dump  Report.to_json + json", lambda: json.dumps(typed.to_json(), indent=2))
    adapter = pydantic_adapter()
    if adapter is not None:
        assert json.loads(adapter.dump_json(typed, by_alias=True)) == typed.to_json()
        line("load  pydantic validate_json", lambda: adapter.validate_json(text))
        line("dump  pydantic dump_json", lambda: adapter.dump_json(typed, by_alias=True))
    line("floor json.loads + json.dumps", lambda: json.dumps(json.loads(text)))
    if msgspec is not None:
        raw = text.encode()
        line("floor msgspec decode + encode", lambda: msgspec.json.encode(msgspec.json.decode(raw)))


def pydantic_adapter() -> Any:
    """The model's pydantic adapter, on a commit where pydantic makes the model's JSON."""
    if importlib.util.find_spec("packmatrix.serial") is None:
        return None
    return importlib.import_module("packmatrix.serial").adapter(Report)


def first_use(repeat: int) -> None:
    """A fresh interpreter: import the model, read the largest report once."""
    code = (
        "import json, time; t = time.perf_counter();"
        "from packmatrix.model.results import Report; i = time.perf_counter();"
        f"Report.from_json(json.loads(open({str(LARGEST)!r}).read())).to_json();"
        "e = time.perf_counter(); print((i - t) * 1000, (e - i) * 1000)"
    )
    imports, uses = [], []
    for _ in range(repeat):
        out = subprocess.run(
            [sys.executable, "-c", code], capture_output=True, text=True, check=True
        )
        first, second = map(float, out.stdout.split())
        imports.append(first)
        uses.append(second)
    print(
        f"fresh interpreter: import the model {spread(imports)}; first load + dump {spread(uses)}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=20)
    parser.add_argument("--rows", type=int, default=60)
    args = parser.parse_args()
    load, cpus = os.getloadavg()[0], os.cpu_count()
    print(f"load average {load:.1f} on {cpus} CPUs; {args.repeat} timings each")
    doc = json.loads(LARGEST.read_text(encoding="utf-8"))
    measure(f"largest fixture ({LARGEST.relative_to(REPO)})", doc, args.repeat)
    measure("synthetic: 60 distributions", synthetic(doc, args.rows), args.repeat)
    first_use(max(3, args.repeat // 4))


if __name__ == "__main__":
    main()
