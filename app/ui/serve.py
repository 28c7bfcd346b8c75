"""``python -m app.ui.serve run app/ui/streamlit_app.py [streamlit options]``: Streamlit, hardened.

Streamlit (1.67, Starlette under uvicorn) has no option for response headers, so before handing
over to Streamlit's own command line this wraps the two functions it builds its server from:

* its middleware list gets :class:`app.web_security.SecurityHeaders` in front (CSP with
  ``frame-ancestors 'none'``, ``X-Frame-Options``, ``nosniff``, ``no-store``; under TLS HSTS and
  ``Secure`` on every cookie, including Streamlit's XSRF and sign-in cookies);
* behind it, :class:`app.ui.session_cookie.SessionCookieEndpoint` answers
  ``/_synthgen/session``: it sets and clears the HttpOnly session cookie (no script sets it);
* uvicorn gets ``server_header=False`` (no ``Server: uvicorn``).

If a Streamlit upgrade renames either function this refuses to start rather than serve an
unhardened dashboard (the pin in pyproject.toml keeps Streamlit below 1.68).
"""

from __future__ import annotations

import sys


def harden_streamlit() -> None:
    from starlette.middleware import Middleware
    from streamlit.web.server.starlette import starlette_app, starlette_server

    from app.ui.session_cookie import SessionCookieEndpoint
    from app.web_security import DASHBOARD_CSP, SecurityHeaders

    make_middleware = getattr(starlette_app, "create_streamlit_middleware", None)
    uvicorn_kwargs = getattr(starlette_server, "_get_uvicorn_config_kwargs", None)
    if make_middleware is None or uvicorn_kwargs is None:
        raise SystemExit("synthgen: this Streamlit version cannot be hardened (see app/ui/serve.py); not starting")
    if getattr(make_middleware, "_synthgen_hardened", False):
        return

    def middleware():
        # SecurityHeaders first: it refuses cross-site POST/DELETE before the cookie endpoint
        return [Middleware(SecurityHeaders, csp=DASHBOARD_CSP), Middleware(SessionCookieEndpoint), *make_middleware()]

    def config_kwargs():
        return {**uvicorn_kwargs(), "server_header": False}

    middleware._synthgen_hardened = True  # type: ignore[attr-defined]
    starlette_app.create_streamlit_middleware = middleware
    starlette_server._get_uvicorn_config_kwargs = config_kwargs


def main(argv: list[str] | None = None) -> None:
    from streamlit.web import cli

    harden_streamlit()
    sys.argv = ["streamlit", *(sys.argv[1:] if argv is None else argv)]
    cli.main(prog_name="streamlit")


if __name__ == "__main__":
    main()
