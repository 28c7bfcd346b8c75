"""A bound on the number of downloads the API streams at once.

Each streamed download holds an open file, a worker thread while a chunk is decrypted and up to
about two chunks (64 KiB each, :data:`app.core.streaming.CHUNK_BYTES`) in the server's buffers. With
no bound, memory, file handles and the thread pool grow with whatever number of clients connects;
beyond :data:`DEFAULT_MAX_DOWNLOADS` (``SYNTHGEN_API_MAX_DOWNLOADS``) a download is answered at
once with 503 and ``Retry-After`` instead of being queued, before it is authorized or audited (it
reads nothing).

The count is kept by an ASGI middleware around the whole request: it goes down when the app call
returns, i.e. after the last byte was sent or when the client went away (the task is cancelled and
the ``finally`` runs), so a client that never reads the body cannot leak a slot. The counter lives
on the event loop's thread (no lock needed) and is per process: a deployment with several API
processes multiplies the bound by their number.
"""

from __future__ import annotations

import json
import os
import re

DEFAULT_MAX_DOWNLOADS = 64
RETRY_AFTER_SECONDS = 2
_DOWNLOAD = re.compile(r"^/api/v1/releases/[^/]+/download/?$")


def max_downloads_from_env(env=None) -> int:
    """``SYNTHGEN_API_MAX_DOWNLOADS`` (a whole number ≥ 1), default 64."""
    raw = (env if env is not None else os.environ).get("SYNTHGEN_API_MAX_DOWNLOADS")
    if raw is None or raw.strip() == "":
        return DEFAULT_MAX_DOWNLOADS
    try:
        value = int(raw)
    except ValueError:
        value = 0
    if value < 1:
        from synthgen.errors import InvalidInputError

        raise InvalidInputError(f"SYNTHGEN_API_MAX_DOWNLOADS ({raw[:20]!r}) must be a whole number of at least 1")
    return value


class DownloadLimit:
    """ASGI middleware: at most ``limit`` requests to ``/api/v1/releases/{id}/download`` at once."""

    def __init__(self, app, *, limit: int = DEFAULT_MAX_DOWNLOADS, retry_after: int = RETRY_AFTER_SECONDS):
        self.app = app
        self.limit = limit
        self.retry_after = retry_after
        self.active = 0
        self.refused = 0  # since start (read by tests and the benchmark's log)

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or not _DOWNLOAD.match(scope.get("path", "")):
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            self.refused += 1
            await self._busy(send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1

    async def _busy(self, send) -> None:
        body = json.dumps({"error": {"code": "busy", "message": f"the server is streaming {self.limit} downloads "
                                                                 f"already; retry after {self.retry_after} s"}}).encode()
        await send({"type": "http.response.start", "status": 503,
                    "headers": [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
                                (b"retry-after", str(self.retry_after).encode()), (b"cache-control", b"no-store")]})
        await send({"type": "http.response.body", "body": body})
