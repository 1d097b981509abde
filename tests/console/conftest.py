"""The console's browser tests: the four services of a node (in-process, SQLite), the console as its own
process (``python -m services.console``, as `make run` starts it), and Debian's Chromium driven by
Playwright (``/usr/bin/chromium``; Playwright's own browser download is never used). Users log in through
the real Keycloak login page. Screenshots go to ``var/test-output/console/``."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from jitdev.bootstrap import CHROMIUM
from jitdev.procs import free_port, wait_until
from jitlib.config import CommonSettings
from tests.harness import RunningService, start_all_services

ROOT = Path(__file__).resolve().parents[2]
#: axe-core's rules, installed by `make install` (Makefile: AXE) into the download cache.
AXE = Path(os.environ.get("JIT_CACHE_DIR", Path.home() / ".cache" / "jit")) / "npm/node_modules/axe-core/axe.min.js"
SHOTS = ROOT / "var" / "test-output" / "console"
#: Each user's browser runs in the time zone of their country (the console shows times in it).
ZONES = {"NL": "Europe/Amsterdam", "DE": "Europe/Berlin", "IE": "Europe/Dublin", "FR": "Europe/Paris"}


@pytest.fixture(scope="module")
def node(
    keycloak: Any, nats_server: Any, demo_workspace_synced: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[dict[str, RunningService]]:
    state = tmp_path_factory.mktemp("console-node")
    common = CommonSettings(nats_url=nats_server.url, oidc_issuer=keycloak.issuer, state_dir=state)
    running = start_all_services(common, state, "console")
    try:
        yield running
    finally:
        for svc in running.values():
            svc.stop()


@pytest.fixture(scope="module")
def console(node: dict[str, RunningService], keycloak: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """The console's base URL; the process is stopped at the end."""
    from jitdev.stack import console_env, console_healthy

    port = free_port()
    addrs = {name: f"127.0.0.1:{svc.app.port}" for name, svc in node.items()}
    env = {
        **os.environ,
        **console_env(keycloak.base_url, "jit", port, addrs),
        "JIT_OTEL_EXPORTER": "none",
        "PYTHONUNBUFFERED": "1",
    }
    log = tmp_path_factory.mktemp("console-log") / "console.log"
    with log.open("wb") as out:
        proc = subprocess.Popen([sys.executable, "-m", "services.console"], cwd=ROOT, env=env, stdout=out, stderr=out)
    try:
        # The same health check and wait as `make run` (it fails with the log's tail if the console dies).
        wait_until(lambda: console_healthy(port), 60, "the web console", log, proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


@pytest.fixture(scope="module")
def browser(console: str) -> Iterator[Any]:
    """Playwright's sync API runs an event loop in this thread while it lives: start it after every
    fixture that uses asyncio.run (the node's), and stop it with the module, before other modules run."""
    from playwright.sync_api import sync_playwright

    if not os.access(CHROMIUM, os.X_OK):
        raise RuntimeError(f"{CHROMIUM} is missing: `make install` installs Debian's chromium")
    with sync_playwright() as pw:
        # As root (CI), Chromium's sandbox cannot start; the pages are the console's own.
        b = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        yield b
        b.close()


@pytest.fixture(scope="session")
def shots() -> Path:
    SHOTS.mkdir(parents=True, exist_ok=True)
    return SHOTS


class Users:
    """One logged-in browser page per user, each in its own browser context (its own cookies)."""

    def __init__(self, browser: Any, base: str) -> None:
        self.browser = browser
        self.base = base
        self.pages: dict[str, Any] = {}

    def page(self, username: str) -> Any:
        if username not in self.pages:
            country = username.split("-")[0].upper()
            ctx = self.browser.new_context(timezone_id=ZONES.get(country, "UTC"), locale="en-GB")
            ctx.set_default_timeout(20_000)
            page = ctx.new_page()
            login(page, self.base, username)
            self.pages[username] = page
        return self.pages[username]

    def close(self) -> None:
        for page in self.pages.values():
            page.context.close()


def login(page: Any, base: str, username: str) -> None:
    """Through the console's start page and Keycloak's own login form, as a person would."""
    page.goto(f"{base}/")
    page.get_by_role("link", name="Log in").click()
    page.wait_for_selector("#kc-login")
    page.fill("#username", username)
    page.fill("#password", "demo")
    page.click("#kc-login")
    page.wait_for_url(f"{base}/workspaces")


@pytest.fixture(scope="module")
def users(console: str, browser: Any) -> Iterator[Users]:
    u = Users(browser, console)
    yield u
    u.close()


def accessibility_violations(page: Any) -> list[str]:
    """What axe-core finds against WCAG 2 A and AA on the page as shown (contrast, labels, names, ...).

    The script is evaluated through the DevTools protocol, so the console's own Content-Security-Policy
    (scripts from the console only) stays in force for the page."""
    if not AXE.exists():
        raise RuntimeError(f"{AXE} is missing: `make install` installs axe-core")
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        page.evaluate(AXE.read_text(encoding="utf-8"))
    found = page.evaluate(
        """async () => (await axe.run(document, {runOnly: {type: 'tag', values: ['wcag2a', 'wcag2aa']}}))
            .violations.map(v => v.id + ': ' + v.help + ' — ' + v.nodes.map(n => n.target.join(' ')).join(', '))"""
    )
    return list(found)
