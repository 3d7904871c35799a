"""Safe by default: loopback or a token, Host and Origin checks, CSRF for the page, the CLI's refusals."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from serve_helpers import server_of
from starlette.testclient import TestClient

from preflight.cli import main
from preflight.errors import UsageError
from preflight.serve.app import create_app
from preflight.serve.config import ServeConfig

TOKEN = "t0ken-for-the-tests-4c8e1a7f3b9d"


class NoPool:
    def warm(self, settings: Any) -> None:
        pass


@pytest.fixture
def loopback() -> Any:
    app = create_app(ServeConfig(), executor=NoPool())
    with TestClient(app, base_url="http://127.0.0.1:8765") as client:
        yield client


def test_other_hosts_need_a_token() -> None:
    with pytest.raises(UsageError) as refused:
        ServeConfig(host="0.0.0.0").validate()
    assert refused.value.code == "serve.token_required"
    with pytest.raises(UsageError):
        ServeConfig(host="192.168.1.5", token="short").validate()
    ServeConfig(host="::1").validate()
    ServeConfig(host="0.0.0.0", token=TOKEN).validate()


def test_cli_refuses_before_binding(capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("PREFLIGHT_SERVE_TOKEN", raising=False)
    assert main(["serve", "--host", "0.0.0.0"]) == 2
    assert "preflight: serve.token_required: --host 0.0.0.0 is reachable" in capsys.readouterr().err
    assert main(["serve", "--profile", "nope"]) == 2
    assert "profile.unknown" in capsys.readouterr().err


def test_cli_without_the_extra_says_how_to_install(capsys: pytest.CaptureFixture[str],
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "uvicorn" else real(name, *a))
    assert main(["serve"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["preflight: serve.missing: preflight serve needs uvicorn: pip install 'preflight-motion[serve]'"]


def test_probe_does_not_import_the_web_stack() -> None:
    import subprocess
    import sys

    code = ("import sys; from preflight.cli import main; main(['probe', '--help']); "
            "print(sorted(m for m in ('starlette', 'uvicorn', 'python_multipart') if m in sys.modules))")  # fmt: skip
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().endswith("[]")


def test_dns_rebinding_host_is_refused(loopback: TestClient) -> None:
    answer = loopback.get("/", headers={"host": "evil.example:8765"})
    assert (answer.status_code, answer.json()["error"]["code"]) == (403, "serve.forbidden")
    assert loopback.get("/", headers={"host": "localhost:8765"}).status_code == 200


def test_csrf_for_browser_calls(loopback: TestClient) -> None:
    csrf = server_of(loopback.app).csrf
    body = {"bundle": "0123456789abcdef", "provider": "fal", "dry_run": True}
    cross = loopback.post("/v1/submit", json=body, headers={"origin": "https://evil.example"})
    assert (cross.status_code, cross.json()["error"]["code"]) == (403, "serve.csrf")
    same_no_token = loopback.post("/v1/submit", json=body, headers={"origin": "http://127.0.0.1:8765"})
    assert same_no_token.json()["error"]["code"] == "serve.csrf"
    cross_site = loopback.post("/v1/submit", json=body,
                               headers={"sec-fetch-site": "cross-site", "x-preflight-csrf": csrf})  # fmt: skip
    assert cross_site.json()["error"]["code"] == "serve.csrf"
    page = loopback.post("/v1/submit", json=body, headers={"origin": "http://127.0.0.1:8765", "x-preflight-csrf": csrf,
                                                            "sec-fetch-site": "same-origin"})  # fmt: skip
    assert page.json()["error"]["code"] == "job.not_found"  # past the guard
    curl = loopback.post("/v1/submit", json=body)  # no Origin: not a browser
    assert curl.json()["error"]["code"] == "job.not_found"
    opaque = loopback.delete("/v1/jobs/0123456789abcdef", headers={"origin": "null"})  # a sandboxed frame
    assert opaque.json()["error"]["code"] == "serve.csrf"


def test_token_mode(tmp_path: Path) -> None:
    app = create_app(ServeConfig(host="0.0.0.0", token=TOKEN), executor=NoPool())
    with TestClient(app, base_url="http://preflight.example.com") as client:
        assert client.get("/").status_code == 200  # the page opens, to ask for the token
        assert 'name="preflight-token-required" content="1"' in client.get("/").text
        denied = client.get("/v1/config")
        assert (denied.status_code, denied.json()["error"]["code"]) == (401, "serve.unauthorized")
        assert client.get("/v1/jobs", headers={"authorization": "Bearer wrong-token-000000"}).status_code == 401
        assert client.get("/v1/jobs", headers={"authorization": f"Bearer {TOKEN}"}).status_code == 200
        assert client.post("/v1/session", json={"token": "nope"}).json()["error"]["code"] == "serve.unauthorized"
        login = client.post("/v1/session", json={"token": TOKEN})
        cookie = login.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=strict" in cookie and TOKEN not in cookie
        assert client.get("/v1/jobs").status_code == 200  # the cookie now
        csrf = server_of(app).csrf
        # A call authenticated by the cookie is a browser's: it needs the page's CSRF token too.
        assert client.delete("/v1/jobs/0123456789abcdef").json()["error"]["code"] == "serve.csrf"
        ok = client.delete("/v1/jobs/0123456789abcdef", headers={"x-preflight-csrf": csrf})
        assert ok.json()["error"]["code"] == "job.not_found"


def test_security_headers_everywhere(loopback: TestClient) -> None:
    for path in ("/", "/v1/health", "/static/app.js", "/v1/nothing"):
        headers = loopback.get(path).headers
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert headers["x-content-type-options"] == "nosniff"
    assert loopback.get("/v1/nothing").json()["error"]["code"] == "file.not_found"
    assert loopback.get("/v1/health").headers["cache-control"] == "no-store"
