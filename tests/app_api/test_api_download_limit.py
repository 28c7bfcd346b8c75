"""The API streams at most N downloads at once; beyond them it answers 503 with Retry-After at
once (nothing read, nothing audited), and a slot is given back when a download ends or its client
goes away."""

from __future__ import annotations

import asyncio
import json

import pytest

from app.api.limits import DEFAULT_MAX_DOWNLOADS, DownloadLimit, max_downloads_from_env
from synthgen.errors import InvalidInputError

DOWNLOAD = "/api/v1/releases/7/download"


class Blocking:
    """A downstream app that holds each request until ``release`` is set."""

    def __init__(self):
        self.release = asyncio.Event()
        self.calls = 0

    async def __call__(self, scope, receive, send):
        self.calls += 1
        await send({"type": "http.response.start", "status": 200, "headers": []})
        if scope["path"].endswith("/download"):
            await self.release.wait()
        await send({"type": "http.response.body", "body": b"x"})


async def call(app, path: str = DOWNLOAD) -> list[dict]:
    sent: list[dict] = []

    async def receive():
        await asyncio.sleep(3600)

    async def send(message):
        sent.append(message)

    await app({"type": "http", "path": path, "method": "GET", "headers": []}, receive, send)
    return sent


def test_third_download_is_refused_with_retry_after_and_slots_come_back():
    async def scenario():
        inner = Blocking()
        app = DownloadLimit(inner, limit=2, retry_after=3)
        first = asyncio.create_task(call(app))
        second = asyncio.create_task(call(app))
        await asyncio.sleep(0.01)
        assert app.active == 2
        refused = await call(app)
        assert refused[0]["status"] == 503
        headers = dict(refused[0]["headers"])
        assert headers[b"retry-after"] == b"3"
        assert json.loads(refused[1]["body"])["error"]["code"] == "busy"
        assert inner.calls == 2  # the refused one never reached the app (not authorized, not audited)
        other = await asyncio.wait_for(call(app, "/api/v1/releases/7/manifest"), 1)  # other routes are not counted
        assert other[0]["status"] == 200
        # a client that goes away (task cancelled mid-body) gives its slot back
        first.cancel()
        with pytest.raises(asyncio.CancelledError):
            await first
        assert app.active == 1
        inner.release.set()
        await second
        assert app.active == 0
        again = await call(app)
        assert again[0]["status"] == 200

    asyncio.run(scenario())


def test_limit_from_environment():
    assert max_downloads_from_env({}) == DEFAULT_MAX_DOWNLOADS
    assert max_downloads_from_env({"SYNTHGEN_API_MAX_DOWNLOADS": "5"}) == 5
    for bad in ("0", "-1", "many"):
        with pytest.raises(InvalidInputError, match="SYNTHGEN_API_MAX_DOWNLOADS"):
            max_downloads_from_env({"SYNTHGEN_API_MAX_DOWNLOADS": bad})


def test_app_installs_the_limit_inside_the_security_headers(platform):
    from app.api import create_app
    from app.web_security import SecurityHeaders

    app = create_app(platform=platform, max_downloads=3)
    order = [m.cls for m in app.user_middleware]  # outermost first
    assert order.index(SecurityHeaders) < order.index(DownloadLimit)  # the 503 gets the security headers
    limit = next(m for m in app.user_middleware if m.cls is DownloadLimit)
    assert limit.kwargs["limit"] == 3
