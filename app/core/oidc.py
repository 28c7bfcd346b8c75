"""The identity an OpenID Connect provider vouched for, as the dashboard receives it.

Streamlit's ``st.login()`` runs the authorization-code flow through Authlib, which verifies the
ID token (RS256 signature against the provider's JWKS, ``iss``, ``aud``, ``exp``, nonce) and
keeps its claims in a signed, HTTP-only cookie for 30 days. The platform does not let that
cookie stand in for a sign-in for 30 days: a platform session is opened only from a *recent*
provider sign-in (``iat``/``auth_time`` within ``OidcSettings.max_age``), so the platform's own
idle and absolute session timeouts keep their meaning for OIDC users too.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import Any, Mapping

CLOCK_SKEW = timedelta(minutes=2)
LOOPBACK_HOSTS = ("localhost", "127.0.0.1", "::1")


def is_https_or_loopback(url: str) -> bool:
    """True for an https URL with a host, or an http one on the loopback interface (local test
    providers): the only places an issuer, a discovery document or a redirect may live."""
    from urllib.parse import urlsplit

    try:
        parts = urlsplit(url)
    except ValueError:
        return False
    if not parts.hostname:
        return False
    return parts.scheme == "https" or (parts.scheme == "http" and parts.hostname in LOOPBACK_HOSTS)


@dataclass(frozen=True)
class OidcIdentity:
    issuer: str
    subject: str
    authenticated_at: datetime | None  # auth_time or iat of the ID token
    label: str  # email or name, for messages only (never used to decide anything)


def identity_from_claims(claims: Mapping[str, Any]) -> OidcIdentity | None:
    """The (issuer, subject) of verified ID-token claims (``st.user``), or None when the
    claims do not hold both."""
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or not isinstance(subject, str) or not issuer or not subject:
        return None
    when = None
    for key in ("auth_time", "iat"):
        value = claims.get(key)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            when = datetime.fromtimestamp(float(value), tz=timezone.utc)
            break
    label = next((str(claims[k]) for k in ("email", "preferred_username", "name") if isinstance(claims.get(k), str)),
                 subject)
    return OidcIdentity(issuer=issuer, subject=subject, authenticated_at=when, label=label[:100])


def is_recent(authenticated_at: datetime | None, now: datetime, max_age: timedelta) -> bool:
    """True when the provider sign-in happened within ``max_age`` before ``now`` (a little
    clock skew allowed). Unknown time: not recent."""
    if authenticated_at is None:
        return False
    return -CLOCK_SKEW <= now - authenticated_at <= max_age
