"""The records' JSON comes from their typed fields: what a field's annotation says is what the
JSON and the schema do (docs/serialization.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import jsonschema
import pytest

from packmatrix.serial import WHOLE, Json, Opt, Seconds, adapter


@dataclass(kw_only=True)
class Row(Json):
    """A record as a branch adds one."""

    name: str
    """Its name."""
    reason: str | None = None
    """Always written, null when unset."""
    sbom: Opt[str] = None
    """Written only when set."""
    seconds: Seconds = 0.0
    """Rounded to the millisecond."""
    tags: list[str] = field(default_factory=list)
    """A list."""


@dataclass(kw_only=True)
class WholeRow(Row):
    """The same fields, every one but the ``Opt`` one always written."""

    __pydantic_config__ = WHOLE


def schema_of(kind: type) -> dict[str, Any]:
    found: dict[str, Any] = adapter(kind).json_schema(mode="serialization")
    return found


class TestFields:
    def test_opt_is_written_only_when_set(self) -> None:
        """``Opt[T]`` leaves no key while unset; a plain ``T | None`` is written as null."""
        assert Row(name="a").to_json() == {"name": "a", "reason": None, "seconds": 0.0, "tags": []}
        assert Row(name="a", sbom="x.json").to_json()["sbom"] == "x.json"

    def test_seconds_are_rounded_on_write_only(self) -> None:
        """The JSON holds milliseconds; the record keeps what was measured."""
        row = Row(name="a", seconds=1.23456)
        assert row.to_json()["seconds"] == 1.235
        assert row.seconds == 1.23456

    def test_round_trip_and_unknown_keys(self) -> None:
        """A record reads back what it wrote; a key it does not know (an older or newer
        report's) is read past."""
        row = Row(name="a", reason="r", sbom="s", tags=["x"])
        assert Row.from_json(row.to_json()) == row
        assert Row.from_json({"name": "a", "extra": {"any": 1}}) == Row(name="a")

    def test_a_mistyped_value_is_refused(self) -> None:
        """The types are checked on read: a list where a string belongs is an error."""
        with pytest.raises(ValueError, match="name"):
            Row.from_json({"name": ["a"]})


class TestSchema:
    def test_fields_make_the_schema(self) -> None:
        """Each field is a property with its docstring as description; no other key is
        allowed; only the fields without a default are required."""
        schema = schema_of(Row)
        assert set(schema["properties"]) == {"name", "reason", "sbom", "seconds", "tags"}
        assert schema["properties"]["sbom"]["description"] == "Written only when set."
        assert schema["additionalProperties"] is False
        assert schema["required"] == ["name"]
        assert schema["properties"]["seconds"]["minimum"] == 0

    def test_whole_requires_what_it_always_writes(self) -> None:
        """A record that writes every field requires each, but its ``Opt`` ones."""
        schema = schema_of(WholeRow)
        assert schema["required"] == ["name", "reason", "seconds", "tags"]
        validator = jsonschema.Draft202012Validator(schema)
        assert validator.is_valid(WholeRow(name="a").to_json())
        assert not validator.is_valid({"name": "a"})
