"""Sign in with an API token (user or admin), sign out.

The token is posted once, checked, and forgotten: the browser gets a random session id
in an HttpOnly cookie (see `security` and `sessions`). A sign-in replaces any session
the browser had (no session fixation).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from starlette.responses import HTMLResponse, RedirectResponse, Response

from winjobs.driver.dashboard.deps import DashboardDep, MaybeViewer
from winjobs.driver.dashboard.screens import base_context
from winjobs.driver.dashboard.security import (
    SignInRefused,
    check_csrf,
    check_same_origin,
    clear_session_cookie,
    safe_next,
    set_session_cookie,
)

router = APIRouter(include_in_schema=False)


def _form(
    dashboard: DashboardDep, next_path: str, error: str | None = None, signed_out: bool = False
) -> HTMLResponse:
    return dashboard.renderer.page(
        "signin.html",
        status_code=401 if error else 200,
        **base_context(dashboard, None, "signin", "Sign in"),
        next_path=next_path,
        error=error,
        signed_out=signed_out,
    )


@router.get("/signin", response_class=HTMLResponse)
def signin_form(
    viewer: MaybeViewer,
    dashboard: DashboardDep,
    next: str | None = None,
    signed_out: bool = False,
) -> Response:
    target = safe_next(next)
    if viewer is not None:
        return RedirectResponse(target, status_code=303)
    return _form(dashboard, target, signed_out=signed_out)


@router.post("/signin")
def signin(
    request: Request,
    viewer: MaybeViewer,
    dashboard: DashboardDep,
    token: Annotated[str, Form()] = "",
    next: Annotated[str, Form()] = "/",
) -> Response:
    check_same_origin(request)
    target = safe_next(next)
    try:
        identity, digest = dashboard.accounts.sign_in(token)
    except SignInRefused as exc:
        return _form(dashboard, target, error=str(exc))
    if viewer is not None:
        dashboard.sessions.close(viewer.session_id)
    session_id, _ = dashboard.sessions.open(identity.name, identity.role, digest)
    response = RedirectResponse(target, status_code=303)
    max_age = int(dashboard.settings.session_hours * 3600)
    set_session_cookie(response, session_id, max_age, dashboard.settings.cookie_secure)
    return response


@router.post("/signout")
def signout(
    request: Request,
    viewer: MaybeViewer,
    dashboard: DashboardDep,
    csrf_token: Annotated[str, Form()] = "",
) -> Response:
    check_same_origin(request)
    if viewer is not None:
        check_csrf(viewer, csrf_token)
        dashboard.sessions.close(viewer.session_id)
    response = RedirectResponse("/signin?signed_out=true", status_code=303)
    clear_session_cookie(response, dashboard.settings.cookie_secure)
    return response
