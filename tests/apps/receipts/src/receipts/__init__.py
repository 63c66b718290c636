"""Orders validated by pydantic v2 (Rust: pydantic-core) and receipts signed with Ed25519 and
hashed with SHA-256 by cryptography (Rust and OpenSSL)."""

from __future__ import annotations

import hashlib
import os
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from flask import Flask, jsonify, request
from pydantic import BaseModel, Field, ValidationError

__version__ = "1.2.0"

SEED = bytes(range(32))
"""The demo signing key's seed; a real service reads it from its secret store."""


class Line(BaseModel):
    sku: str = Field(min_length=1, max_length=32)
    quantity: int = Field(gt=0, le=1000)
    unit_cents: int = Field(ge=0)


class Order(BaseModel):
    customer: str = Field(min_length=1)
    lines: list[Line] = Field(min_length=1)

    @property
    def total_cents(self) -> int:
        return sum(line.quantity * line.unit_cents for line in self.lines)


def sha256_hex(data: bytes) -> str:
    """SHA-256 through OpenSSL (cryptography), checked against hashlib at every call."""
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    value = digest.finalize().hex()
    if value != hashlib.sha256(data).hexdigest():
        raise RuntimeError("cryptography and hashlib disagree on SHA-256")
    return value


def create_app() -> Flask:
    app = Flask(__name__)
    key = Ed25519PrivateKey.from_private_bytes(
        bytes.fromhex(os.environ["RECEIPTS_SEED"]) if "RECEIPTS_SEED" in os.environ else SEED
    )
    public: Ed25519PublicKey = key.public_key()

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok", version=__version__)

    @app.post("/orders")
    def accept_order() -> Any:
        try:
            order = Order.model_validate_json(request.get_data())
        except ValidationError as exc:
            errors = [
                {"loc": ".".join(str(part) for part in error["loc"]), "type": error["type"]}
                for error in exc.errors()
            ]
            return jsonify(error="invalid order", errors=errors), 422
        body = order.model_dump_json().encode()
        signature = key.sign(body)
        return (
            jsonify(
                total_cents=order.total_cents,
                lines=len(order.lines),
                sha256=sha256_hex(body),
                signature=signature.hex(),
            ),
            201,
        )

    @app.post("/verify")
    def verify() -> Any:
        payload = request.get_json(silent=True) or {}
        message = str(payload.get("message", "")).encode()
        try:
            public.verify(bytes.fromhex(str(payload.get("signature", ""))), message)
        except (InvalidSignature, ValueError):
            return jsonify(valid=False), 200
        return jsonify(valid=True), 200

    @app.post("/digest")
    def digest() -> Any:
        data = request.get_data()
        signature = key.sign(data)
        public.verify(signature, data)
        return jsonify(sha256=sha256_hex(data), signature=signature.hex(), length=len(data))

    return app
