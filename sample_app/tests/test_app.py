"""The sample app's own tests: what every packaged artifact must also do."""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient

import sample_app
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


def test_plugin_is_loaded_by_name(client: FlaskClient) -> None:
    payload = client.get("/api/transform/reverse?text=abc").get_json()
    assert payload == {"plugin": "reverse", "result": "cba"}
    assert client.get("/api/transform/os").status_code == 404


def test_quotes_come_from_package_data(client: FlaskClient) -> None:
    payload = client.get("/api/quotes").get_json()
    assert payload["count"] == 3


def test_about_reads_installed_metadata(
    client: FlaskClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The tests run from the source tree, where sample-app is not installed: stand in for the
    # installed metadata (every packaged artifact answers this check for real).
    versions = {"sample-app": "1.0.0"}
    monkeypatch.setattr(sample_app.metadata, "version", versions.__getitem__)
    monkeypatch.setattr(sample_app.metadata, "requires", lambda name: ["waitress", "Flask"])
    payload = client.get("/api/about").get_json()
    assert payload == {
        "distribution": "sample-app",
        "version": "1.0.0",
        "requires": ["Flask", "waitress"],
    }


def test_notes_take_a_json_post(client: FlaskClient) -> None:
    response = client.post("/api/notes", json={"text": "one two"})
    assert response.status_code == 201
    assert response.get_json() == {"created": {"text": "one two", "words": 2}}
    assert client.post("/api/notes", data="x").status_code == 400


def test_feedback_form_redirects(client: FlaskClient) -> None:
    response = client.post("/feedback", data={"message": "hi"})
    assert (response.status_code, response.headers["Location"]) == (303, "/?thanks=1")
