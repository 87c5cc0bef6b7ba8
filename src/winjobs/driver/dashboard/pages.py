"""The pages (GET) and the fragments the browser fetches to refresh them in place.

A fragment is the live part of its page rendered alone, with the page's query string
(the filters), so the refresh never loses them.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from fastapi import APIRouter, Request
from starlette.responses import HTMLResponse

from winjobs.driver.api.deps import DriverDep, IdPath
from winjobs.driver.dashboard import screens
from winjobs.driver.dashboard.deps import DashboardDep, SignedIn
from winjobs.driver.dashboard.security import PageError
from winjobs.driver.errors import DriverError

router = APIRouter(include_in_schema=False)


@contextmanager
def html_errors() -> Iterator[None]:
    """A domain refusal (no such job...) as an HTML page, not the API's JSON."""
    try:
        yield
    except DriverError as exc:
        raise PageError(exc.status_code, str(exc)) from exc


@router.get("/", response_class=HTMLResponse)
def jobs_page(
    request: Request, viewer: SignedIn, driver: DriverDep, dashboard: DashboardDep
) -> HTMLResponse:
    flashes = dashboard.sessions.take_flashes(viewer.session_id)
    return dashboard.renderer.page(
        "jobs.html",
        **screens.base_context(dashboard, viewer, "jobs", "Jobs", flashes),
        **screens.jobs_screen(driver, dashboard, viewer, request.query_params),
    )


@router.get("/fragment/jobs", response_class=HTMLResponse)
def jobs_fragment(
    request: Request, viewer: SignedIn, driver: DriverDep, dashboard: DashboardDep
) -> HTMLResponse:
    return dashboard.renderer.page(
        "_jobs.html", **screens.jobs_screen(driver, dashboard, viewer, request.query_params)
    )


@router.get("/jobs/{job_id}", response_class=HTMLResponse)
def job_page(
    job_id: IdPath, viewer: SignedIn, driver: DriverDep, dashboard: DashboardDep
) -> HTMLResponse:
    with html_errors():
        screen = screens.job_screen(driver, viewer, job_id)
    flashes = dashboard.sessions.take_flashes(viewer.session_id)
    return dashboard.renderer.page(
        "job.html",
        **screens.base_context(dashboard, viewer, "jobs", f"Job {job_id}", flashes),
        **screen,
    )


@router.get("/fragment/jobs/{job_id}", response_class=HTMLResponse)
def job_fragment(
    job_id: IdPath, viewer: SignedIn, driver: DriverDep, dashboard: DashboardDep
) -> HTMLResponse:
    with html_errors():
        screen = screens.job_screen(driver, viewer, job_id)
    return dashboard.renderer.page("_job.html", viewer=viewer, **screen)


@router.get("/workers", response_class=HTMLResponse)
def workers_page(viewer: SignedIn, driver: DriverDep, dashboard: DashboardDep) -> HTMLResponse:
    flashes = dashboard.sessions.take_flashes(viewer.session_id)
    return dashboard.renderer.page(
        "workers.html",
        **screens.base_context(dashboard, viewer, "workers", "Workers", flashes),
        **screens.workers_screen(driver, viewer),
    )


@router.get("/fragment/workers", response_class=HTMLResponse)
def workers_fragment(viewer: SignedIn, driver: DriverDep, dashboard: DashboardDep) -> HTMLResponse:
    return dashboard.renderer.page(
        "_workers.html", viewer=viewer, **screens.workers_screen(driver, viewer)
    )
