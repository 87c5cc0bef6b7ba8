"""The job actions of the dashboard: plain HTML forms that POST, then redirect (303).

Every action goes through `JobService`, which applies the ownership rule (users change
their own jobs, admins any): the dashboard hides the buttons a person may not use, but
the refusal comes from the domain, so a forged form gets 403 and changes nothing.
A refusal that depends on the moment (the job finished meanwhile) comes back as a
message on the job's page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import ValidationError
from starlette.responses import RedirectResponse

from winjobs.driver.api.deps import IdPath, JobsDep
from winjobs.driver.dashboard.deps import Actor, DashboardDep
from winjobs.driver.dashboard.security import PageError, Viewer
from winjobs.driver.dashboard.sessions import FlashLevel
from winjobs.driver.errors import Conflict, DriverError, Invalid
from winjobs.wire import PriorityChange

router = APIRouter(include_in_schema=False)


def _act(
    dashboard: DashboardDep, viewer: Viewer, job_id: int, action: Callable[[], str]
) -> RedirectResponse:
    """Run an action; tell how it went on the job's page."""
    try:
        done = action()
    except (Conflict, Invalid) as exc:
        dashboard.sessions.flash(viewer.session_id, FlashLevel.ERROR, str(exc))
    except DriverError as exc:
        raise PageError(exc.status_code, str(exc)) from exc
    else:
        dashboard.sessions.flash(viewer.session_id, FlashLevel.INFO, done)
    return RedirectResponse(f"/jobs/{job_id}", status_code=303)


@router.post("/jobs/{job_id}/cancel")
def cancel(
    job_id: IdPath, viewer: Actor, jobs: JobsDep, dashboard: DashboardDep
) -> RedirectResponse:
    def run() -> str:
        jobs.cancel(job_id, viewer.identity)
        return f"Job {job_id} cancelled: running tasks stop at their next heartbeat."

    return _act(dashboard, viewer, job_id, run)


@router.post("/jobs/{job_id}/retry")
def retry(
    job_id: IdPath, viewer: Actor, jobs: JobsDep, dashboard: DashboardDep
) -> RedirectResponse:
    def run() -> str:
        jobs.retry(job_id, viewer.identity)
        return f"Job {job_id} queued again: only its unfinished years run."

    return _act(dashboard, viewer, job_id, run)


@router.post("/jobs/{job_id}/priority")
def set_priority(
    job_id: IdPath,
    viewer: Actor,
    jobs: JobsDep,
    dashboard: DashboardDep,
    priority: Annotated[str, Form()] = "",
) -> RedirectResponse:
    def run() -> str:
        try:
            change = PriorityChange.model_validate({"priority": priority.strip()})
        except ValidationError as exc:
            raise Invalid(
                f"Priority {priority.strip()!r} refused: give a whole number from 1 to 100."
            ) from exc
        jobs.set_priority(job_id, change.priority, viewer.identity)
        return f"Priority of job {job_id} set to {change.priority}."

    return _act(dashboard, viewer, job_id, run)
