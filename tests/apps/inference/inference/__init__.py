"""A small inference service: weights from package data, numpy's BLAS and LAPACK, pandas."""

from __future__ import annotations

import io
from importlib import resources
from typing import Any

import numpy as np
import pandas as pd
from flask import Flask, jsonify, request

WEIGHTS = "weights.npz"


def load_weights() -> tuple[np.ndarray, np.ndarray]:
    """The model's weight matrix and bias, read from the package (inside a zip too)."""
    data = resources.files("inference").joinpath("model", WEIGHTS).read_bytes()
    with np.load(io.BytesIO(data)) as archive:
        return archive["weights"], archive["bias"]


def create_app() -> Flask:
    app = Flask(__name__)
    weights, bias = load_weights()

    @app.get("/health")
    def health() -> Any:
        return jsonify(status="ok", numpy=np.__version__, pandas=pd.__version__)

    @app.get("/model")
    def model() -> Any:
        return jsonify(inputs=weights.shape[0], outputs=weights.shape[1], source=WEIGHTS)

    @app.post("/predict")
    def predict() -> Any:
        payload = request.get_json(silent=True) or {}
        inputs = np.asarray(payload.get("inputs", []), dtype=np.float64)
        if inputs.ndim != 2 or inputs.shape[1] != weights.shape[0]:
            return jsonify(error=f"inputs must be rows of {weights.shape[0]} numbers"), 422
        outputs = inputs @ weights + bias
        return jsonify(outputs=np.round(outputs, 9).tolist())

    @app.post("/solve")
    def solve() -> Any:
        payload = request.get_json(silent=True) or {}
        a = np.asarray(payload.get("a", []), dtype=np.float64)
        b = np.asarray(payload.get("b", []), dtype=np.float64)
        try:
            x = np.linalg.solve(a, b)
        except np.linalg.LinAlgError as exc:
            return jsonify(error=str(exc).lower()), 422
        return jsonify(x=np.round(x, 9).tolist())

    @app.post("/daily")
    def daily() -> Any:
        payload = request.get_json(silent=True) or {}
        tz = str(payload.get("tz", "UTC"))
        frame = pd.DataFrame(payload.get("events", []), columns=["at", "value"])
        local = pd.to_datetime(frame["at"], utc=True).dt.tz_convert(tz)
        sums = frame.groupby(local.dt.strftime("%Y-%m-%d"))["value"].sum()
        return jsonify(tz=tz, days={day: float(total) for day, total in sums.items()})

    return app
