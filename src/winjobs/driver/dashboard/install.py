"""Hook the dashboard into the driver's app: routes, static files, sessions, errors."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import PlainTextResponse, RedirectResponse, Response

from winjobs.driver.dashboard import actions, pages, signin
from winjobs.driver.dashboard.deps import Dashboard, get_dashboard
from winjobs.driver.dashboard.rendering import STATIC, STATIC_PREFIX, Renderer
from winjobs.driver.dashboard.screens import base_context
from winjobs.driver.dashboard.security import (
    Accounts,
    PageError,
    SignInNeeded,
    current_viewer,
    session_authenticator,
)
from winjobs.driver.dashboard.sessions import Clock, SessionStore
from winjobs.driver.settings import DriverSettings

FRAGMENT_PREFIX = "/fragment/"


def install_dashboard(app: FastAPI, settings: DriverSettings, clock: Clock) -> None:
    """Serve the dashboard at `/` and let its session cookie read the API (GET only).

    Builds nothing heavy: the session file is read on first use.
    """
    config = settings.dashboard
    sessions = SessionStore(
        path=settings.data_dir / "dashboard" / "sessions.json",
        lifetime=timedelta(hours=config.session_hours),
        clock=clock,
    )
    accounts = Accounts(settings.tokens)
    app.state.dashboard = Dashboard(config, sessions, accounts, Renderer())
    app.state.authenticators.append(session_authenticator(sessions, accounts))
    app.mount(STATIC_PREFIX, StaticFiles(directory=STATIC), name="dashboard-static")
    for module in (signin, pages, actions):
        app.include_router(module.router)
    app.add_exception_handler(SignInNeeded, _sign_in_needed)
    app.add_exception_handler(PageError, _page_error)


async def _sign_in_needed(request: Request, _exc: Exception) -> Response:
    if request.url.path.startswith(FRAGMENT_PREFIX):
        return PlainTextResponse("signed out: reload the page to sign in", status_code=401)
    target = request.url.path if request.method == "GET" else "/"
    if request.method == "GET" and request.url.query:
        target += f"?{request.url.query}"
    return RedirectResponse(f"/signin?next={quote(target, safe='')}", status_code=303)


async def _page_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, PageError)
    dashboard = get_dashboard(request)
    viewer = current_viewer(request, dashboard.sessions, dashboard.accounts)
    return dashboard.renderer.page(
        "error.html",
        status_code=exc.status_code,
        **base_context(dashboard, viewer, active="", title="Refused"),
        message=str(exc),
        error_status=exc.status_code,
    )
