"""Playwright helpers for the dashboard (Debian chromium, no browser download)."""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run", "--disable-dev-shm-usage"]


def require_chromium() -> None:
    """Skip when Debian chromium is missing, or fail when CI demands the browser tests run."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("SYNTHGEN_REQUIRE_BROWSER"):
        pytest.fail(reason + " and SYNTHGEN_REQUIRE_BROWSER is set")
    pytest.skip(reason)


def dashboard_env(tmp_path: Path, **extra: str) -> dict:
    """The process environment for a launcher under test: no SYNTHGEN_* from the caller's shell,
    its own data and key directories, fast password hashing, no demo data."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SYNTHGEN_")}
    env.update(SYNTHGEN_DATA_DIR=str(tmp_path / "data"), SYNTHGEN_KEY_DIR=str(tmp_path / "keys"),
               SYNTHGEN_FAST_HASH="1", SYNTHGEN_DEMO="0", **extra)
    return env


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_idle(page, timeout: float = 30_000) -> None:
    """Wait until Streamlit finished the current script run."""
    page.wait_for_timeout(300)
    page.wait_for_function(
        "() => !document.querySelector('[data-testid=\"stStatusWidget\"]') || "
        "!document.querySelector('[data-testid=\"stStatusWidget\"]').innerText.includes('Running')",
        timeout=timeout)
    page.wait_for_function("() => !document.querySelector('[data-testid=\"stSkeleton\"]') && "
                           "!document.querySelector('[data-stale=\"true\"]')", timeout=timeout)
    page.wait_for_timeout(300)


def choose_classification(page, label: str) -> None:
    """Pick the data classification ``label`` (e.g. "internal") in the upload form."""
    box = page.get_by_role("combobox", name="Classification", exact=True).first
    box.click()
    box.fill(label)
    page.get_by_role("option").filter(has_text=label).first.click()
    wait_idle(page)


def login(page, base_url: str, username: str, password: str) -> None:
    page.goto(base_url)
    page.get_by_label("User name").fill(username)
    page.get_by_label("Password", exact=True).fill(password)
    page.get_by_role("button", name="Sign in").click()
    page.get_by_text("Log out").wait_for(timeout=30_000)
    wait_idle(page)


def logout(page) -> None:
    page.get_by_role("button", name="Log out").click()
    page.get_by_role("button", name="Sign in").wait_for(timeout=30_000)


def goto(page, title: str) -> None:
    page.locator('[data-testid="stSidebarNav"]').get_by_text(title, exact=True).click()
    page.get_by_role("heading", name=title if title != "Audit" else "Audit log").first.wait_for(timeout=30_000)
    wait_idle(page)


def alerts(page) -> str:
    """The visible text of every alert (error, warning, info, success) on the page."""
    return "\n".join(page.locator('[data-testid="stAlertContainer"]').all_inner_texts())


def main_text(page) -> str:
    """Everything the main area of the page shows, as text."""
    return page.locator('[data-testid="stMain"]').inner_text()


def charts_drawn(page) -> int:
    """How many Vega charts have actually drawn marks (a canvas or SVG with size)."""
    return page.evaluate("""() => [...document.querySelectorAll('[data-testid="stVegaLiteChart"]')]
        .filter(c => [...c.querySelectorAll('canvas, svg')].some(e => e.getBoundingClientRect().height > 40)).length""")


def shot(page, directory: Path, name: str) -> Path:
    """A screenshot of the whole page. Streamlit scrolls inside its main container, so the
    viewport is stretched to the content's height for the shot and put back afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.png"
    size = page.viewport_size
    height = page.evaluate("() => Math.max(...[...document.querySelectorAll('[data-testid=\"stMain\"], "
                           "[data-testid=\"stMainBlockContainer\"]')].map(e => e.scrollHeight), 0)")
    if size and height > size["height"]:
        page.set_viewport_size({"width": size["width"], "height": min(int(height) + 40, 12_000)})
        page.wait_for_timeout(400)
    page.screenshot(path=str(path), full_page=True)
    if size and height > size["height"]:
        page.set_viewport_size(size)
    return path


def launch(playwright):
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True,
                                      env={**os.environ, "HOME": os.environ.get("HOME", "/tmp")})


class Dashboard:
    """``python -m app.launcher`` (worker + dashboard, no API) on a free port, for browser tests."""

    def __init__(self, env: dict, log_path: Path, port: int | None = None, api_port: int | None = None):
        import subprocess
        import sys

        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self._log = open(log_path, "wb")  # noqa: SIM115 - closed in stop()
        repo = Path(__file__).resolve().parents[2]
        api = ["--api-port", str(api_port)] if api_port else ["--no-api"]
        self.api_url = f"http://127.0.0.1:{api_port}" if api_port else None
        self.proc = subprocess.Popen([sys.executable, "-m", "app.launcher", "--no-demo", *api, "--port",
                                      str(self.port), "--address", "127.0.0.1"], cwd=repo, env=env, stdout=self._log,
                                     stderr=subprocess.STDOUT, start_new_session=True)

    def wait_ready(self, timeout: float = 90) -> "Dashboard":
        import time
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                with urllib.request.urlopen(self.url + "/_stcore/health", timeout=2) as r:
                    if r.status == 200:
                        return self
            except OSError:
                pass
            if self.proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise AssertionError("the dashboard did not start:\n" + self.log_path.read_text())
            time.sleep(0.5)

    def wait_api(self, timeout: float = 60) -> "Dashboard":
        import time
        import urllib.error
        import urllib.request

        deadline = time.monotonic() + timeout
        while True:
            try:
                urllib.request.urlopen(self.api_url + "/openapi.json", timeout=2).close()
                return self
            except urllib.error.HTTPError:
                return self  # it answers
            except OSError:
                if time.monotonic() > deadline:
                    raise AssertionError("the API did not start:\n" + self.log_path.read_text()) from None
                time.sleep(0.5)

    def stop(self) -> None:
        import signal
        import subprocess

        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
        self._log.close()
