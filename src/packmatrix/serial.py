"""The report's JSON and its JSON Schema, made from the typed records by pydantic.

The records are plain dataclasses; their fields (with their attribute docstrings) are the one
source of truth. :class:`Json` gives each the same two methods, ``to_json()`` and
``from_json()``, through a cached pydantic ``TypeAdapter``; ``schema/report.schema.json`` is
generated from the same model (``packmatrix.model.schema``). A new optional field is one line::

    sbom: Opt[str] = None
    \"\"\"What it means (this becomes the schema's description).\"\"\"

``Opt[T]`` is written only when it is set; a plain ``T | None`` field is always written (null
when unset). Why pydantic: docs/serialization.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Annotated, Any, ClassVar, Final, TypeVar, get_type_hints

from pydantic import ConfigDict, Field, GetJsonSchemaHandler, PlainSerializer, TypeAdapter
from pydantic.fields import FieldInfo
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema

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


def _written_whole(schema: dict[str, Any], kind: type) -> None:
    """Require every property but the ``Opt`` ones: the record writes each of them."""
    hints = get_type_hints(kind, include_extras=True)
    schema["additionalProperties"] = False
    schema["required"] = [
        name
        for name in schema.get("properties", {})
        if not any(
            isinstance(meta, FieldInfo) and meta.exclude_if is not None
            for meta in getattr(hints.get(name), "__metadata__", ())
        )
    ]


WHOLE: Final = ConfigDict(**{**CONFIG, "json_schema_extra": _written_whole})
"""The config of a record that writes every field but its ``Opt`` ones: the schema requires
the fields with a default too (a plain config requires only those without one)."""


class Json:
    """A record that reads and writes its JSON through pydantic, from its typed fields."""

    __pydantic_config__: ClassVar[ConfigDict] = CONFIG

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
    and serializer, which for the whole report takes a good part of a second (so not at
    import: a command that reads no report never pays it)."""
    found = _ADAPTERS.get(kind)
    if found is None:
        found = _ADAPTERS[kind] = TypeAdapter(kind)
    return found


class Shaped:
    """``Annotated[dict[str, Any], Shaped(SomeTypedDict)]``: a dict kept as it is read (every
    key), whose schema is the TypedDict's. For what the report keeps as its owner made it
    (``core`` makes the app's and the host's JSON, and may not import the model)."""

    def __init__(self, kind: type) -> None:
        self.kind = kind

    def __get_pydantic_json_schema__(
        self, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        return handler(adapter(self.kind).core_schema)
