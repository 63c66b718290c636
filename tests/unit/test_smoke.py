"""The smoke test judges status, content type, body text and JSON fields, and says what failed."""

from __future__ import annotations

from packmatrix.appspec import Check
from packmatrix.smoke import Response, judge

HTML = Check(name="page", path="/", status=200, content_type="text/html", contains=("marker",))
API = Check(name="api", path="/api", json={"greeting": "Hello"})


class TestJudge:
    def test_passing_page(self) -> None:
        """Right status, type and text: no problem."""
        assert judge(HTML, Response(200, "text/html; charset=utf-8", b"<b>marker</b>")) is None

    def test_wrong_status_shows_the_body(self) -> None:
        """A 500 names the expected status and shows what came back."""
        problem = judge(HTML, Response(500, "text/html", b"<h1>TemplateNotFound: index.html</h1>"))
        assert problem is not None
        assert "expected HTTP 200, got 500" in problem
        assert "TemplateNotFound" in problem

    def test_missing_text(self) -> None:
        """A body without the marker text fails and quotes the marker."""
        problem = judge(HTML, Response(200, "text/html", b"something else"))
        assert problem is not None
        assert "'marker'" in problem

    def test_wrong_content_type(self) -> None:
        """A CSS file served as text/plain fails."""
        css = Check(name="css", path="/s.css", content_type="text/css")
        assert judge(css, Response(200, "text/plain", b"")) == (
            "expected Content-Type text/css, got text/plain"
        )

    def test_json_fields(self) -> None:
        """JSON checks compare the named fields only."""
        assert (
            judge(API, Response(200, "application/json", b'{"greeting": "Hello", "x": 1}')) is None
        )
        problem = judge(API, Response(200, "application/json", b'{"greeting": "Hi"}'))
        assert problem == "JSON field 'greeting' is 'Hi', expected 'Hello'"
        assert judge(API, Response(200, "text/plain", b"nope")) == "body is not JSON: nope"

    def test_expected_404(self) -> None:
        """A check can require an error status."""
        missing = Check(name="404", path="/nope", status=404)
        assert judge(missing, Response(404, "text/html", b"")) is None
        assert judge(missing, Response(200, "text/html", b"")) is not None
