"""The data of each page, gathered from the driver's services (never SQL here).

Each function returns the template context of one page's live part, so a page and its
fragment (the part the browser refreshes) always show the same thing.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

import winjobs
from winjobs.driver import auth
from winjobs.driver.dashboard import charts, present
from winjobs.driver.dashboard.deps import Dashboard
from winjobs.driver.dashboard.security import DASHBOARD_ROLES, Viewer
from winjobs.driver.dashboard.sessions import Flash
from winjobs.driver.runtime import Driver
from winjobs.wire import JobDetail, JobStatus, JobSummary, WorkerInfo, WorkerState

LOG_LINES = 60  #: lines of the job log shown on its page (the link gives all of it)
LOAD_HOURS = 6  #: the utilisation chart's window on the jobs page


def base_context(
    dashboard: Dashboard,
    viewer: Viewer | None,
    active: str,
    title: str,
    flashes: list[Flash] | None = None,
) -> dict[str, Any]:
    """What the layout needs on every page."""
    return {
        "viewer": viewer,
        "active": active,
        "title": title,
        "flashes": flashes or [],
        "refresh_ms": int(dashboard.settings.refresh_seconds * 1000),
        "version": winjobs.__version__,
    }


def jobs_screen(
    driver: Driver, dashboard: Dashboard, viewer: Viewer, params: Mapping[str, str]
) -> dict[str, Any]:
    filters = present.parse_filters(params)
    page = _jobs_page(driver, viewer, filters, dashboard.settings.jobs_per_page)
    people = {t.name for t in driver.settings.tokens if t.role in DASHBOARD_ROLES}
    if filters.submitter:
        people.add(filters.submitter)
    now = driver.store.clock()
    load = driver.overview.load_history(LOAD_HOURS)
    return {
        "pool": driver.overview.status(),
        "load_chart": charts.utilisation_chart(load.points, now, LOAD_HOURS),
        "load_hours": LOAD_HOURS,
        "load_sample_s": load.sample_s,
        "filters": filters,
        "page": page,
        "statuses": [s.value for s in JobStatus],
        "submitters": sorted(people, key=str.lower),
        "now": now,
        #: the jobs whose page the viewer may open (the others are lines of the queue)
        "readable": {j.id for j in page.items if driver.jobs.may_read(j, viewer.identity)},
    }


def _jobs_page(
    driver: Driver, viewer: Viewer, filters: present.JobFilters, size: int
) -> present.Page[JobSummary]:
    """The page asked for, read from the store one page at a time (not every job on
    each refresh); past the end (a stale bookmark), the last page."""
    number = filters.page
    for _ in range(2):
        offset = present.page_offset(number, size)
        listing = driver.jobs.list(filters.status, filters.submitter, viewer.identity, size, offset)
        total = listing.total or 0
        count = present.page_count(total, size)
        if number <= count:
            break
        number = count
    return present.Page(listing.jobs, number, count, total)


def may_change(viewer: Viewer, job: JobDetail) -> bool:
    """The domain's ownership rule, asked rather than repeated."""
    return auth.may_change(viewer.identity, job.submitter)


def may_release(viewer: Viewer, job: JobDetail) -> bool:
    return auth.may_release(viewer.identity, job.submitter, job.held_by)


def job_screen(driver: Driver, viewer: Viewer, job_id: int) -> dict[str, Any]:
    job = driver.jobs.detail(job_id, viewer.identity)
    now = driver.store.clock()
    log_text, cut = present.log_tail(driver.jobs.job_log(job_id, viewer.identity), LOG_LINES)
    active = not job.status.is_final
    can_change = may_change(viewer, job)
    can_release = job.held and may_release(viewer, job)
    return {
        "job": job,
        "now": now,
        "running_for": present.elapsed(job.started_at, job.finished_at, now),
        "timeline": present.timeline(job.tasks, now),
        "progress_chart": charts.years_done_chart(
            job.tasks, job.years_total, job.started_at, job.finished_at or now, job.eta_seconds
        ),
        "places": present.year_places(job.tasks),
        #: a task's error is cleared when an attempt succeeds: these are the live problems
        "failures": [t for t in job.tasks if t.error],
        "log_text": log_text,
        "log_cut": cut,
        "log_lines": LOG_LINES,
        "can_cancel": can_change and active,
        "can_prioritise": can_change and active,
        "can_retry": can_change and job.status in (JobStatus.FAILED, JobStatus.CANCELLED),
        "can_hold": can_change and active and not job.held,
        "can_release": can_release,
        "show_locations": any(t.output_location for t in job.tasks),
    }


def workers_screen(driver: Driver, viewer: Viewer) -> dict[str, Any]:
    now = driver.store.clock()
    listing = driver.pool.list()
    workers: list[WorkerInfo] = listing.workers
    states = Counter(w.state for w in workers)
    return {
        "workers": workers,
        "states": [(s.value, states[s]) for s in WorkerState if states[s]],
        "held": [w for w in workers if w.held_reason or w.drain_reason],
        "pools": listing.pools,
        "shares": driver.overview.shares(),
        "now": now,
        #: the admin's buttons (hold, drain, release, forget) on each row
        "can_act": viewer.is_admin,
    }
