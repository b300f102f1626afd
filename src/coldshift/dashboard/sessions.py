"""Dashboard sign-in: a signed, timestamped cookie (itsdangerous), a CSRF token inside it.

The cookie holds the access key, a fingerprint of its secret (so a changed secret ends the
sessions signed in with the old one) and the session's CSRF token; it is signed with a key
derived from every project's secret in the catalog, so every process of a region (same
catalog) accepts the cookies of the others, and a restart keeps them. It expires
``max_age`` seconds after sign-in (the signature's timestamp is checked, not only the
browser's Max-Age). Before sign-in, a second short-lived cookie carries the sign-in form's
CSRF token (double submit), so that no other site can sign a browser in.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass

from itsdangerous import BadSignature, URLSafeTimedSerializer

from coldshift.domain.catalog import Catalog, Project

SESSION_COOKIE = "coldshift_session"
LOGIN_COOKIE = "coldshift_login"
#: a session lasts a working day
SESSION_SECONDS = 8 * 3600
LOGIN_SECONDS = 3600
_SALT = "coldshift-dashboard-session"


def session_key(catalog: Catalog) -> bytes:
    """The cookies' signing key: only someone who knows every project's secret could forge
    one, and an admin key already sees everything."""
    digest = hashlib.sha256(b"coldshift-dashboard\0")
    for project in sorted(catalog.projects, key=lambda p: p.access_key):
        digest.update(f"{project.access_key}\0{project.secret_key}\0".encode())
    return digest.digest()


def _fingerprint(project: Project) -> str:
    return hmac.new(project.secret_key.encode(), b"dashboard", hashlib.sha256).hexdigest()[:16]


@dataclass(frozen=True, slots=True)
class Session:
    project: Project
    csrf: str

    @property
    def admin(self) -> bool:
        return self.project.admin


class Sessions:
    def __init__(self, catalog: Catalog, max_age: int = SESSION_SECONDS) -> None:
        self._catalog = catalog
        self.max_age = max_age
        self._serializer = URLSafeTimedSerializer(session_key(catalog), salt=_SALT)

    def sign_in(self, access_key: str, secret_key: str) -> Project | None:
        """The key's project when the secret is its own (compared in constant time)."""
        project = self._catalog.project_by_key(access_key)
        expected = project.secret_key if project else secrets.token_hex(16)
        if not hmac.compare_digest(expected.encode(), secret_key.encode()) or project is None:
            return None
        return project

    def cookie_for(self, project: Project) -> str:
        token = secrets.token_urlsafe(24)
        return self._serializer.dumps(
            {"ak": project.access_key, "fp": _fingerprint(project), "csrf": token}
        )

    def read(self, cookie: str | None) -> Session | None:
        """The session of a cookie; None when it is missing, forged, expired or its key no
        longer has that secret."""
        if not cookie:
            return None
        try:
            data = self._serializer.loads(cookie, max_age=self.max_age)
        except BadSignature:  # SignatureExpired is one
            return None
        if not isinstance(data, dict):
            return None
        project = self._catalog.project_by_key(str(data.get("ak", "")))
        if project is None or not hmac.compare_digest(_fingerprint(project), str(data.get("fp"))):
            return None
        return Session(project, str(data.get("csrf", "")))


def new_token() -> str:
    return secrets.token_urlsafe(24)


def same_token(expected: str | None, given: str | None) -> bool:
    return bool(expected) and bool(given) and hmac.compare_digest(str(expected), str(given))
