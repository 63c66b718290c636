"""The WSGI app: ``gallery.web:app``, served by the launcher packmatrix generates."""

from __future__ import annotations

import io
from importlib import resources
from typing import Any

from flask import Flask, jsonify, request
from lxml import etree
from PIL import Image, ImageStat
from sqlalchemy import String, create_engine, func, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column
from sqlalchemy.pool import StaticPool

from gallery import __version__


class Base(DeclarativeBase):
    pass


class Tag(Base):
    __tablename__ = "tag"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40), unique=True)


engine = create_engine("sqlite://", poolclass=StaticPool, connect_args={"check_same_thread": False})
Base.metadata.create_all(engine)
app = Flask(__name__)


@app.get("/health")
def health() -> Any:
    return jsonify(status="ok", version=__version__)


@app.get("/jpeg")
def jpeg_round_trip() -> Any:
    """The PNG shipped as package data, encoded to JPEG and decoded again."""
    png = resources.files("gallery").joinpath("static/swatch.png").read_bytes()
    with Image.open(io.BytesIO(png)) as source:
        buffer = io.BytesIO()
        source.convert("RGB").save(buffer, "JPEG", quality=95)
    with Image.open(io.BytesIO(buffer.getvalue())) as decoded:
        decoded.load()
        red, green, blue = (round(value) for value in ImageStat.Stat(decoded).mean)
        return jsonify(
            format=decoded.format,
            size=list(decoded.size),
            mode=decoded.mode,
            mean=[red, green, blue],
            magic=buffer.getvalue()[:3].hex(),
        )


@app.post("/invoice")
def invoice() -> Any:
    """XPath over a POSTed XML invoice (libxml2)."""
    parser = etree.XMLParser(resolve_entities=False, no_network=True)
    try:
        root = etree.fromstring(request.get_data(), parser)
    except etree.XMLSyntaxError as exc:
        return jsonify(error=f"not XML: {exc}"), 400
    return jsonify(
        customer=root.xpath("string(/invoice/@customer)"),
        items=int(root.xpath("count(//item)")),
        total=float(root.xpath("sum(//item/@price)")),
        skus=[str(sku) for sku in root.xpath("//item[@price > 2]/@sku")],
    )


@app.post("/tags")
def add_tag() -> Any:
    name = str((request.get_json(silent=True) or {}).get("name", "")).strip()[:40]
    if not name:
        return jsonify(error="a tag needs a name"), 400
    with Session(engine) as session:
        session.add(Tag(name=name))
        session.commit()
        count = session.scalar(select(func.count()).select_from(Tag))
    return jsonify(name=name, count=count), 201


@app.get("/tags")
def list_tags() -> Any:
    with Session(engine) as session:
        names = list(session.scalars(select(Tag.name).order_by(Tag.name)))
    return jsonify(count=len(names), tags=names)
