"""The benchmark's load generator (bench/load.py) against a local HTTP server."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator

import pytest

from bench.load import check_target, run_load


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        status, body = (200, b"api 2 on here\n") if self.path == "/" else (503, b"down\n")
        self.send_response(status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_the_load_sends_the_requests_asked_and_tallies_the_answers(server: str) -> None:
    result = run_load(server + "/", requests=300, max_seconds=30, clients=4)
    assert (result.sent, result.failed) == (300, 0)
    assert result.bodies == {"api 2 on here": 300}
    assert 0 < result.percentile(0.5) <= result.percentile(0.99)
    assert "sent 300, failed 0" in result.summary()


def test_an_answer_other_than_200_is_a_failure_with_its_moment(server: str) -> None:
    result = run_load(server + "/down", requests=20, max_seconds=30, clients=2)
    assert (result.sent, result.failed) == (20, 20)
    assert all(why.startswith("HTTP 503") for _, why in result.failures)


def test_a_refused_connection_is_a_failure_not_a_crash() -> None:
    result = run_load("http://127.0.0.1:9/", requests=5, max_seconds=30, clients=1)
    assert (result.sent, result.failed) == (5, 5)


@pytest.mark.parametrize("url", ["http://192.0.2.1/", "http://example.com/", "ftp://10.250.0.11/"])
def test_load_goes_only_to_the_lab_or_loopback(url: str) -> None:
    with pytest.raises(ValueError):
        check_target(url)
