"""The OAuth device authorization flow, end to end against the real Keycloak: the CLI asks for a code, a
person approves it in a browser (scripted here with plain HTTP and the realm's real HTML forms), and the
CLI receives tokens. Real (non-demo) users log in this way; the password grant refuses them."""

from __future__ import annotations

import html
import re
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urljoin

import httpx
import pytest

from jitcli.config import CliSettings
from jitcli.session import Session, decode_claims

pytestmark = pytest.mark.integration

FORM = re.compile(r"<form[^>]*action=\"([^\"]+)\"[^>]*>(.*?)</form>", re.S | re.I)
INPUT = re.compile(r"<input[^>]*>", re.I)
ATTR = re.compile(r'(\w+)="([^"]*)"')


class Browser:
    """Just enough of a browser: follows redirects and keeps cookies, including the ones Keycloak marks
    Secure (a real browser treats http://127.0.0.1 as a secure context and sends them; httpx does not)."""

    def __init__(self) -> None:
        self.http = httpx.Client(timeout=20)
        self.cookies: dict[str, str] = {}

    def request(self, method: str, url: str, data: dict[str, str] | None = None) -> httpx.Response:
        for _ in range(10):
            headers = {"Cookie": "; ".join(f"{k}={v}" for k, v in self.cookies.items())}
            resp = self.http.request(method, url, data=data, headers=headers)
            for raw in resp.headers.get_list("set-cookie"):
                name, _, rest = raw.partition("=")
                self.cookies[name.strip()] = rest.split(";", 1)[0]
            if resp.status_code not in (301, 302, 303, 307, 308):
                return resp
            url, method, data = urljoin(url, resp.headers["location"]), "GET", None
        raise AssertionError("too many redirects")

    def get(self, url: str) -> httpx.Response:
        return self.request("GET", url)

    def post(self, url: str, data: dict[str, str]) -> httpx.Response:
        return self.request("POST", url, data)

    def __enter__(self) -> Browser:
        return self

    def __exit__(self, *exc: object) -> None:
        self.http.close()


CONSENT_PAGES: list[str] = []


def approve_in_browser(url: str, username: str, password: str) -> str:
    """Follow the verification URL like a person would: log in, then grant the consent asked for (each
    consent page seen is kept in ``CONSENT_PAGES``)."""
    with Browser() as browser:
        page = browser.get(url)
        for _ in range(6):
            text = page.text
            if "kc-form-login" not in text and "accept" not in text.lower():
                return text
            m = FORM.search(text)
            assert m, text[:2000]
            action, body = html.unescape(m.group(1)), m.group(2)
            data: dict[str, str] = {}
            for tag in INPUT.findall(body):
                attrs = dict(ATTR.findall(tag))
                name = attrs.get("name")
                if not name:
                    continue
                if name == "username":
                    data[name] = username
                elif name == "password":
                    data[name] = password
                elif attrs.get("type") in ("hidden", "text") or name == "accept":
                    data[name] = attrs.get("value", "")
            if 'name="accept"' in body:
                CONSENT_PAGES.append(text)
                data["accept"] = "Yes"
            page = browser.post(urljoin(str(page.url), action), data=data)
        return page.text


def test_device_login_works_for_a_real_account(keycloak: Any, tmp_path: Path) -> None:
    settings = CliSettings(keycloak_url=keycloak.base_url, config_dir=tmp_path / "cfg")
    session = Session(settings)
    code = session.start_device_login()
    assert code.user_code and code.verification_uri.startswith(keycloak.base_url)

    result: dict[str, Any] = {}

    def poll() -> None:
        try:
            result["tokens"] = session.finish_device_login(code)
        except Exception as exc:  # reported below
            result["error"] = exc

    poller = threading.Thread(target=poll)
    poller.start()
    CONSENT_PAGES.clear()
    final_page = approve_in_browser(code.verification_uri_complete, "nl-realuser", "demo")
    poller.join(60)
    # RFC 8628 3.3: the user approves the device explicitly, so a code phished from someone else's
    # terminal is not granted by merely being logged in (security review: the device flow skipped consent).
    assert CONSENT_PAGES, "the device login granted access without asking the user to approve it"
    assert "error" not in result, f"{result.get('error')}\n{final_page[:1000]}"
    claims = decode_claims(result["tokens"].access_token)
    assert claims["preferred_username"] == "nl-realuser"
    assert claims["jurisdiction"] == "NL"
    assert "jit-services" in claims["aud"]
