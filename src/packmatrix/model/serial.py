"""The report's JSON and its JSON Schema, made from the typed records by pydantic.

The records are plain dataclasses; their fields (with their attribute docstrings) are the one
source of truth. :class:`Json` gives each the same two methods, ``to_json()`` and
``from_json()``, through a cached pydantic ``TypeAdapter``; ``schema/report.schema.json`` is
generated from the same model (``packmatrix.report.schema``). A new optional field is one line::

    sbom: Opt[str] = None
    \"\"\"What it means (this becomes the schema's description).\"\"\"

``Opt[T]`` is written only when it is set; a plain ``T | None`` field is always written (null
when unset). Why pydantic: docs/serialization.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, Final, TypeVar

from pydantic import ConfigDict, Field, PlainSerializer, TypeAdapter

T = TypeVar("T")
J = TypeVar("J", bound="Json")


def _unset(value: object) -> bool:
    return value is None


Opt = Annotated[T | None, Field(exclude_if=_unset)]
"""An optional field written only when it is not None (older reports lack it)."""

NonNegative = Annotated[int, Field(ge=0)]
Bytes = Annotated[int, Field(ge=0)]
Seconds = Annotated[float, Field(ge=0), PlainSerializer(lambda value: round(value, 3))]
"""A duration the report rounds to the millisecond."""
Sha256 = Annotated[str, Field(pattern=r"^[0-9a-f]{64}$")]
Argv = Annotated[list[str], Field(min_length=1)]

CONFIG: Final = ConfigDict(
    use_attribute_docstrings=True,
    extra="ignore",  # what an older report holds and this one dropped is read past
    json_schema_extra={"additionalProperties": False},  # what is written is declared
)


class Json:
    """A record that reads and writes its JSON through pydantic, from its typed fields."""

    __pydantic_config__ = CONFIG

    def to_json(self) -> dict[str, Any]:
        dumped: dict[str, Any] = adapter(type(self)).dump_python(self, mode="json", by_alias=True)
        return dumped

    @classmethod
    def from_json(cls: type[J], data: Mapping[str, Any]) -> J:
        found: J = adapter(cls).validate_python(data)
        return found


_ADAPTERS: dict[type, TypeAdapter[Any]] = {}


def adapter(kind: type[T]) -> TypeAdapter[T]:
    """One adapter per record type, made on first use: making it compiles the type's validator
    and serializer (milliseconds a type, so not at import)."""
    found = _ADAPTERS.get(kind)
    if found is None:
        found = _ADAPTERS[kind] = TypeAdapter(kind)
    return found
