"""``python -m app.api``: serve the HTTP API (see :func:`app.api.serve`)."""

from app.api import serve

serve()
