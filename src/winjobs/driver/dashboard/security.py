"""Who is looking at the dashboard, and the guards of its forms.

- Accounts: the configured user and admin tokens. Worker tokens never sign in.
- The session cookie (`winjobs_session`): a random id, HttpOnly, SameSite=Lax, Path=/,
  Max-Age = the session's lifetime, Secure when configured.
- Every state-changing form carries the session's CSRF token (synchroniser token), and
  every POST must come from a page of this driver (`Origin`, else `Referer`, must name
  this host): the second guard also covers the sign-in form, which has no session yet.
- The cookie also authenticates GET requests of the API (`session_authenticator`), so
  the pages can link to the result and log downloads; never a POST, so the API's
  actions stay out of reach of cross-site forms whatever the browser does with cookies.
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable
from dataclasses import dataclass
from urllib.parse import urlsplit

from starlette.requests import HTTPConnection, Request
from starlette.responses import Response

from winjobs.driver.auth import Authenticator
from winjobs.driver.dashboard.sessions import Session, SessionStore
from winjobs.driver.errors import Unauthorized
from winjobs.driver.settings import TokenConfig, hash_token
from winjobs.wire import Identity, Role

COOKIE_NAME = "winjobs_session"
SAFE_METHODS = frozenset({"GET", "HEAD"})
DASHBOARD_ROLES = (Role.USER, Role.ADMIN)


class SignInRefused(Exception):
    """The token cannot open a dashboard session (the message says why)."""


class SignInNeeded(Exception):
    """No live session: pages redirect to the sign-in form, fragments answer 401."""


class PageError(Exception):
    """An HTML error page with this status (403 forged form, 404 no such job...)."""

    def __init__(self, status_code: int, message: str) -> None:
        super().__init__(message)
        self.status_code = status_code


@dataclass(frozen=True)
class Viewer:
    """A signed-in person: who, and the session (its id is the cookie's value)."""

    identity: Identity
    session_id: str
    session: Session

    @property
    def is_admin(self) -> bool:
        return self.identity.role is Role.ADMIN


class Accounts:
    """The tokens that may sign in, by digest."""

    def __init__(self, tokens: Iterable[TokenConfig]) -> None:
        self._by_digest = {
            t.token_sha256: Identity(name=t.name, role=t.role) for t in tokens if t.token_sha256
        }

    def sign_in(self, token: str) -> tuple[Identity, str]:
        """The identity of a token and its digest, if it may use the dashboard."""
        digest = hash_token(token.strip())
        identity = self._by_digest.get(digest) if token.strip() else None
        if identity is None:
            raise SignInRefused("This token is not known to the driver.")
        if identity.role not in DASHBOARD_ROLES:
            raise SignInRefused(
                f"A {identity.role} token cannot sign in to the dashboard: "
                "use a user or admin token."
            )
        return identity, digest

    def identity_of(self, session: Session) -> Identity | None:
        """Who the session belongs to, if its token is still configured, unchanged."""
        identity = self._by_digest.get(session.token_sha256)
        if identity is None or identity.role not in DASHBOARD_ROLES:
            return None
        if (identity.name, identity.role) != (session.name, session.role):
            return None
        return identity


def current_viewer(
    connection: HTTPConnection, sessions: SessionStore, accounts: Accounts
) -> Viewer | None:
    session_id = connection.cookies.get(COOKIE_NAME)
    if not session_id:
        return None
    session = sessions.get(session_id)
    if session is None:
        return None
    identity = accounts.identity_of(session)
    if identity is None:
        return None
    return Viewer(identity=identity, session_id=session_id, session=session)


def session_authenticator(sessions: SessionStore, accounts: Accounts) -> Authenticator:
    """The API's cookie authenticator: GET and HEAD only (see the module docstring)."""

    def authenticate(connection: HTTPConnection) -> Identity | None:
        if connection.scope.get("method") not in SAFE_METHODS:
            return None
        if COOKIE_NAME not in connection.cookies:
            return None
        viewer = current_viewer(connection, sessions, accounts)
        if viewer is None:
            raise Unauthorized("your dashboard session has ended: sign in again at /signin")
        return viewer.identity

    return authenticate


def check_same_origin(request: Request) -> None:
    """Refuse a POST that a page of another site made the browser send."""
    source = request.headers.get("origin") or request.headers.get("referer")
    if source is None:
        return  # old clients and scripts send neither; the CSRF token still guards actions
    expected = request.headers.get("host", "")
    if source == "null" or urlsplit(source).netloc.lower() != expected.lower():
        raise PageError(403, "This form was sent from another site: refused.")


def check_csrf(viewer: Viewer, submitted: str) -> None:
    if not hmac.compare_digest(viewer.session.csrf_token.encode(), submitted.encode()):
        raise PageError(
            403, "This form is out of date or was not made by the dashboard: reload the page."
        )


def set_session_cookie(response: Response, session_id: str, max_age: int, secure: bool) -> None:
    response.set_cookie(
        COOKIE_NAME,
        session_id,
        max_age=max_age,
        path="/",
        httponly=True,
        samesite="lax",
        secure=secure,
    )


def clear_session_cookie(response: Response, secure: bool) -> None:
    response.delete_cookie(COOKIE_NAME, path="/", httponly=True, samesite="lax", secure=secure)


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a path of this site only (no open redirect)."""
    if not target or not target.startswith("/") or target.startswith(("//", "/\\")):
        return "/"
    if any(ch in target for ch in "\r\n\\"):
        return "/"
    return target
