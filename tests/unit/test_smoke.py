"""The smoke test judges status, content type, body text and JSON fields, and says what failed."""

from __future__ import annotations

import http.server
import threading
from typing import Any

from packmatrix.core.checks import Check
from packmatrix.steps.smoke import Response, judge, run_checks

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

    def test_not_contains(self) -> None:
        """A body holding a forbidden string fails and names it."""
        safe = Check(name="no traceback", path="/", not_contains=("Traceback",))
        assert judge(safe, Response(200, "text/html", b"fine")) is None
        problem = judge(safe, Response(200, "text/html", b"Traceback (most recent call last)"))
        assert problem is not None
        assert problem.startswith("body contains 'Traceback', which it must not")

    def test_nested_json_fields(self) -> None:
        """A dotted key or a nested table reaches into nested objects and lists."""
        body = b'{"data": {"version": "1.0", "items": [{"id": 7}]}, "a.b": 1}'
        for expected in (
            {"data.version": "1.0"},
            {"data": {"version": "1.0"}},
            {"data.items.0.id": 7},
            {"a.b": 1},
        ):
            check = Check(name="nested", path="/", json=expected)
            assert judge(check, Response(200, "application/json", body)) is None, expected
        missing = Check(name="nested", path="/", json={"data.name": "x"})
        problem = judge(missing, Response(200, "application/json", body))
        assert problem is not None
        assert problem.startswith("JSON field 'data.name' is missing")

    def test_redirect_location(self) -> None:
        """A redirect is checked as it is, never followed: status and Location."""
        login = Check(name="login", path="/private", status=302, location="/login")
        redirect = Response(302, "text/html", b"", {"location": "http://127.0.0.1:5/login"})
        assert judge(login, redirect) is None
        elsewhere = Response(302, "text/html", b"", {"location": "/home"})
        assert judge(login, elsewhere) == "expected Location '/login', got '/home'"
        assert judge(login, Response(302, "text/html", b"")) == (
            "expected a redirect to '/login', got no Location header"
        )


BODIES: list[dict[str, Any]] = [
    {"json_body": {"name": "a"}},
    {"form": {"name": "a b"}},
    {"body": "raw"},
]


class TestRequests:
    """Checks are sent to a real server on loopback (a thread of this process)."""

    def test_method_headers_and_bodies_reach_the_app(self) -> None:
        """POST with a JSON body, a form or raw text, and custom headers, arrive as declared."""
        seen: list[tuple[str, str, str, str]] = []

        class Echo(http.server.BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", 0))
                body = self.rfile.read(length).decode()
                seen.append(
                    (self.command, self.headers.get("Content-Type", ""), body, self.headers["X-T"])
                )
                self.send_response(201)
                self.send_header("Content-Type", "application/json")
                self.end_headers()
                self.wfile.write(b'{"ok": true}')

            def log_message(self, format: str, *args: object) -> None:
                pass

        server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Echo)
        threading.Thread(target=server.serve_forever, daemon=True).start()
        try:
            checks = tuple(
                Check(
                    name=f"post {index}",
                    path="/items",
                    method="POST",
                    headers={"X-T": "yes"},
                    status=201,
                    json={"ok": True},
                    **body,
                )
                for index, body in enumerate(BODIES)
            )
            results = run_checks("127.0.0.1", server.server_address[1], checks)
        finally:
            server.shutdown()
            server.server_close()
        assert [result.ok for result in results] == [True, True, True]
        assert seen == [
            ("POST", "application/json", '{"name": "a"}', "yes"),
            ("POST", "application/x-www-form-urlencoded", "name=a+b", "yes"),
            ("POST", "", "raw", "yes"),
        ]
