"""The dashboard's FastAPI dependencies: its parts, who is looking, who is acting.

Plain `def` where the session file may be read (first use) so the event loop never
waits on the disk.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Form, Request

from winjobs.driver.dashboard.config import DashboardSettings
from winjobs.driver.dashboard.rendering import Renderer
from winjobs.driver.dashboard.security import (
    Accounts,
    SignInNeeded,
    Viewer,
    check_csrf,
    check_same_origin,
    current_viewer,
)
from winjobs.driver.dashboard.sessions import SessionStore


@dataclass
class Dashboard:
    """The dashboard's parts, one per app (`app.state.dashboard`)."""

    settings: DashboardSettings
    sessions: SessionStore
    accounts: Accounts
    renderer: Renderer


def get_dashboard(request: Request) -> Dashboard:
    dashboard: Dashboard = request.app.state.dashboard
    return dashboard


DashboardDep = Annotated[Dashboard, Depends(get_dashboard)]


def _maybe_viewer(request: Request, dashboard: DashboardDep) -> Viewer | None:
    return current_viewer(request, dashboard.sessions, dashboard.accounts)


def _viewer(viewer: Annotated[Viewer | None, Depends(_maybe_viewer)]) -> Viewer:
    if viewer is None:
        raise SignInNeeded()
    return viewer


def _actor(
    request: Request,
    viewer: Annotated[Viewer | None, Depends(_maybe_viewer)],
    csrf_token: Annotated[str, Form()] = "",
) -> Viewer:
    """A form sender: same origin first (refused even without a session), then a live
    session, then that session's CSRF token."""
    check_same_origin(request)
    if viewer is None:
        raise SignInNeeded()
    check_csrf(viewer, csrf_token)
    return viewer


#: anyone, signed in or not (the sign-in page)
MaybeViewer = Annotated[Viewer | None, Depends(_maybe_viewer)]
#: a signed-in person looking at a page or fragment
SignedIn = Annotated[Viewer, Depends(_viewer)]
#: a signed-in person sending a form of the dashboard (origin and CSRF checked)
Actor = Annotated[Viewer, Depends(_actor)]
