"""The sample app's own tests: what every packaged artifact must also do."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

from sample_app import create_app


@pytest.fixture(name="client")
def _client() -> FlaskClient:
    return create_app({"TESTING": True}).test_client()


def test_index_renders_the_packaged_template(client: FlaskClient) -> None:
    response = client.get("/")
    assert response.status_code == 200
    assert b'data-marker="packmatrix-sample-index"' in response.data


def test_static_css_is_served(client: FlaskClient) -> None:
    response = client.get("/static/style.css")
    assert response.status_code == 200
    assert b"--packmatrix-sample-css" in response.data


def test_health_reports_how_it_runs(client: FlaskClient) -> None:
    payload = client.get("/health").get_json()
    assert payload["status"] == "ok"
    assert payload["frozen"] is False
    assert set(payload) >= {"python", "frozen", "pex", "container"}


def test_greet_returns_json(client: FlaskClient) -> None:
    assert client.get("/api/greet?name=matrix").get_json()["greeting"] == "Hello, matrix!"
