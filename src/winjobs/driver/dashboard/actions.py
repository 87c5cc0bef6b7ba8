"""The job actions of the dashboard (cancel, priority, hold, release, retry): plain HTML
forms that POST, then redirect (303).

Every job action goes through `JobService`, which applies the ownership rule (users
change their own jobs, admins any), every worker action through `PoolService` (admins
only): the dashboard hides the buttons a person may not use, but the refusal comes from
the domain, so a forged form gets 403 and changes nothing.
A refusal that depends on the moment (the job finished meanwhile) comes back as a
message on the job's page.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form
from pydantic import ValidationError
from starlette.responses import RedirectResponse

from winjobs.driver.api.deps import DriverDep, IdPath, JobsDep
from winjobs.driver.dashboard.deps import Actor, DashboardDep
from winjobs.driver.dashboard.security import PageError, Viewer
from winjobs.driver.dashboard.sessions import FlashLevel
from winjobs.driver.errors import Conflict, DriverError, Invalid
from winjobs.driver.runtime import Driver
from winjobs.ops.words import counted
from winjobs.wire import HoldRequest, PriorityChange

router = APIRouter(include_in_schema=False)


def _act(
    dashboard: DashboardDep, viewer: Viewer, job_id: int, action: Callable[[], str]
) -> RedirectResponse:
    """Run an action; tell how it went on the job's page."""
    return _act_then(dashboard, viewer, f"/jobs/{job_id}", action)


def _act_then(
    dashboard: DashboardDep, viewer: Viewer, page: str, action: Callable[[], str]
) -> RedirectResponse:
    """Run an action; tell how it went on `page`."""
    try:
        done = action()
    except (Conflict, Invalid) as exc:
        dashboard.sessions.flash(viewer.session_id, FlashLevel.ERROR, str(exc))
    except DriverError as exc:
        raise PageError(exc.status_code, str(exc)) from exc
    else:
        dashboard.sessions.flash(viewer.session_id, FlashLevel.INFO, done)
    return RedirectResponse(page, status_code=303)


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


@router.post("/jobs/{job_id}/hold")
def hold(
    job_id: IdPath,
    viewer: Actor,
    jobs: JobsDep,
    dashboard: DashboardDep,
    reason: Annotated[str, Form()] = "",
) -> RedirectResponse:
    def run() -> str:
        try:
            why = HoldRequest(reason=reason.strip() or None).reason
        except ValidationError as exc:
            raise Invalid("The reason is too long: 500 characters at most.") from exc
        job = jobs.hold(job_id, viewer.identity, why)
        running = job.tasks_running
        rest = f"; {counted(running, 'running task')} go on to the end" if running else ""
        return f"Job {job_id} held: no new task of it starts until it is released{rest}."

    return _act(dashboard, viewer, job_id, run)


@router.post("/jobs/{job_id}/release")
def release(
    job_id: IdPath, viewer: Actor, jobs: JobsDep, dashboard: DashboardDep
) -> RedirectResponse:
    def run() -> str:
        jobs.release(job_id, viewer.identity)
        return f"Job {job_id} released: its tasks start again, at its place in the queue."

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


# --------------------------------------------------------------------------- workers


ReasonField = Annotated[str, Form(max_length=500)]


def _pause(
    name: str, viewer: Viewer, driver: Driver, dashboard: DashboardDep, reason: str, drain: bool
) -> RedirectResponse:
    """Hold or drain: the same form, the same reason field."""

    def run() -> str:
        why = reason.strip() or None
        if drain:
            driver.pool.drain(name, why, viewer.identity)
            return f"Worker {name} draining: it finishes its task, then takes no new one."
        driver.pool.hold(name, why, viewer.identity)
        return f"Worker {name} held: it takes no new task until released."

    return _act_then(dashboard, viewer, "/workers", run)


@router.post("/workers/{name}/hold")
def hold_worker(
    name: str, viewer: Actor, driver: DriverDep, dashboard: DashboardDep, reason: ReasonField = ""
) -> RedirectResponse:
    return _pause(name, viewer, driver, dashboard, reason, drain=False)


@router.post("/workers/{name}/drain")
def drain_worker(
    name: str, viewer: Actor, driver: DriverDep, dashboard: DashboardDep, reason: ReasonField = ""
) -> RedirectResponse:
    return _pause(name, viewer, driver, dashboard, reason, drain=True)


@router.post("/workers/{name}/release")
def release_worker(
    name: str, viewer: Actor, driver: DriverDep, dashboard: DashboardDep
) -> RedirectResponse:
    def run() -> str:
        driver.pool.release(name, viewer.identity)
        return f"Worker {name} released: it takes tasks again."

    return _act_then(dashboard, viewer, "/workers", run)


@router.post("/workers/{name}/forget")
def forget_worker(
    name: str, viewer: Actor, driver: DriverDep, dashboard: DashboardDep
) -> RedirectResponse:
    def run() -> str:
        driver.pool.forget(name, viewer.identity)
        return f"Worker {name} forgotten: it comes back if it is seen again."

    return _act_then(dashboard, viewer, "/workers", run)
