"""The dashboard in a real headless Chromium, against a real driver with real workers.

One driver (uvicorn on a free loopback port, in a thread) and two `winjobs worker`
processes running the stand-in solver slowly enough for progress to be seen, shared by
the tests of this module. Debian's `chromium` is driven by Playwright (no browser
download). Screenshots of every page go to `tests/e2e/screenshots/` for people to look at.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import PROJECT_ROOT
from tests.unit.driver.helpers import make_study
from winjobs.antares.archive import pack_study
from winjobs.antares.example import write_example_study
from winjobs.client import DriverClient
from winjobs.driver.app import RunningDriver
from winjobs.driver.settings import load_settings
from winjobs.wire import JobDetail, JobStatus, JobSubmitFields, PilotInfo, PilotReport

pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.xdist_group("browser")]

SCREENSHOTS = PROJECT_ROOT / "tests" / "e2e" / "screenshots"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
TOKENS = [
    {"name": "alice", "role": "user", "token": "alice-secret"},
    {"name": "bob", "role": "user", "token": "bob-secret"},
    {"name": "ops", "role": "admin", "token": "ops-secret"},
    {"name": "pool", "role": "worker", "token": "worker-secret"},
]
WORKERS = ("pc-north", "pc-south")
SECONDS_PER_YEAR = "0.5"
VIEWPORT = {"width": 1366, "height": 768}
#: how long a test waits for the first job to succeed: its 8 years run in about 6 s, and
#: its assembly took 6 s alone but 29 s in a CI run with the other xdist worker busy
JOB_SUCCEEDS_MS = 120_000


def _bin(name: str) -> str:
    found = shutil.which(name, path=str(Path(sys.executable).parent))
    if found is None:
        pytest.fail(f"{name} is not installed in the venv: run the tests through `uv run pytest`")
    return found


@dataclass
class Stack:
    """A driver, its workers and the user clients."""

    url: str
    tmp: Path
    workers: list[subprocess.Popen[bytes]] = field(default_factory=list)
    logs: list[Path] = field(default_factory=list)

    def client(self, token: str) -> DriverClient:
        return DriverClient.connect(self.url, token)

    def submit(self, token: str, name: str, nbyears: int) -> int:
        study = write_example_study(self.tmp / name, nbyears=nbyears)
        archive = pack_study(study, self.tmp / f"{name}.zip").path
        with self.client(token) as client:
            return client.submit_job(archive, JobSubmitFields(name=name)).job_id

    def job(self, job_id: int) -> JobDetail:
        with self.client("ops-secret") as client:
            return client.get_job(job_id)

    def worker_logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.logs
        )


def _start_worker(stack: Stack, name: str) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("WINJOBS_")}
    env["WINJOBS_STANDIN_SECONDS_PER_YEAR"] = SECONDS_PER_YEAR
    log = stack.tmp / f"{name}.log"
    command = [
        _bin("winjobs"),
        "worker",
        "--driver-url",
        stack.url,
        "--token",
        "worker-secret",
        "--name",
        name,
        "--cores",
        "1",
        "--data-dir",
        str(stack.tmp / name),
        "--solver",
        f"8.8={_bin('winjobs-standin-solver')}",
    ]
    with log.open("wb") as out:
        stack.workers.append(
            subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=env)
        )
    stack.logs.append(log)


def _stop_workers(stack: Stack) -> None:
    """Ctrl-C twice (drain, then abort), the way an operator stops a worker."""
    for _ in range(2):
        for process in stack.workers:
            if process.poll() is None:
                process.send_signal(signal.SIGINT)
        time.sleep(0.3)
    for process in stack.workers:
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    tmp = tmp_path_factory.mktemp("dashboard-e2e")
    settings = load_settings(
        None,
        host="127.0.0.1",
        port=0,
        data_dir=tmp / "driver",
        tokens=TOKENS,
        lease_seconds=6,  # heartbeats (and so progress reports) every 1.5 s
        sweep_interval_s=1,
        dashboard={"refresh_seconds": 1},
        utilisation_sample_s=1,  # the utilisation chart fills within seconds
    )
    with RunningDriver(settings) as driver:
        running = Stack(url=driver.url, tmp=tmp)
        try:
            for name in WORKERS:
                _start_worker(running, name)
            _wait_for(lambda: _registered(running) == len(WORKERS), 30, "workers registered")
            yield running
        finally:
            with running.client("ops-secret") as ops:
                for job in ops.list_jobs().jobs:
                    if not job.status.is_final:
                        ops.cancel_job(job.id)
            _stop_workers(running)


def _registered(stack: Stack) -> int:
    with stack.client("ops-secret") as ops:
        return len(ops.list_workers().workers)


def _wait_for(check: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for: {what}")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    chromium = shutil.which("chromium")
    if chromium is None:
        pytest.skip(
            "Debian's chromium is not installed (apt-get install chromium; .ci/run installs it)"
        )
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def _signed_in(browser: Any, stack: Stack, token: str, shot: str | None = None) -> Any:
    """A new browser tab signed in through the sign-in form."""
    context = browser.new_context(base_url=stack.url, viewport=VIEWPORT)
    context.set_default_timeout(20_000)
    page = context.new_page()
    page.goto("/")
    assert "/signin" in page.url
    page.get_by_label("Token").fill(token)
    if shot:
        _screenshot(page, shot)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.url}/")
    return page


def _screenshot(page: Any, name: str) -> None:
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def _progress(page: Any, job_id: int) -> int:
    value = page.locator(f"#job-{job_id} [role=progressbar]").get_attribute("aria-valuenow")
    return int(value)


@pytest.fixture(scope="module")
def first_job(stack: Stack) -> int:
    return stack.submit("alice-secret", "north-sea-2030", nbyears=8)


def test_the_job_list_shows_a_submitted_job_and_its_progress_moves(
    browser: Any, stack: Stack, first_job: int
) -> None:
    page = _signed_in(browser, stack, "alice-secret", shot="signin")
    row = page.locator(f"#job-{first_job}")
    assert row.get_by_role("link", name=f"#{first_job}").is_visible()
    assert "north-sea-2030" in row.inner_text() and "alice" in row.inner_text()
    page.evaluate("window.__sameDocument = true")
    start = _progress(page, first_job)
    # the live refresh swaps the row in: the bar moves without the page being loaded again
    assert start < 8
    page.wait_for_function(
        "([n, start]) => Number(document.querySelector('#job-' + n + ' [role=progressbar]')"
        ".getAttribute('aria-valuenow')) > start",
        arg=[first_job, start],
        timeout=60_000,
    )
    assert _progress(page, first_job) > start
    assert "running" in row.inner_text() or "succeeded" in row.inner_text()
    _screenshot(page, "jobs")
    page.get_by_label("Status").select_option("succeeded")
    page.get_by_role("button", name="Apply filters").click()
    assert "status=succeeded" in page.url
    page.evaluate("window.__sameDocument = true")
    page.wait_for_selector(f"#job-{first_job}", timeout=JOB_SUCCEEDS_MS)  # once it succeeds
    assert page.evaluate("window.__sameDocument") is True
    assert "status=succeeded" in page.url  # the refresh kept the filter
    assert page.get_by_label("Status").input_value() == "succeeded"
    _screenshot(page, "jobs-filtered")
    page.context.close()


def test_the_job_page_shows_where_each_year_ran(
    browser: Any, stack: Stack, first_job: int, tmp_path: Path
) -> None:
    page = _signed_in(browser, stack, "alice-secret")
    page.goto(f"/jobs/{first_job}")
    heading = page.get_by_role("heading", level=1)
    heading.filter(has_text="succeeded").wait_for(timeout=JOB_SUCCEEDS_MS)
    job = stack.job(first_job)
    assert job.status is JobStatus.SUCCEEDED
    workers_used = {t.worker for t in job.tasks}
    for name in workers_used:
        assert page.locator(".lane-name", has_text=name).is_visible()
    assert page.locator(".lane-track .bar").count() == len(job.tasks)
    assert page.locator("table.tasks tbody tr").count() == len(job.tasks)
    assert "submitted by alice" in page.locator("section.log pre").inner_text()
    _screenshot(page, "job")
    with page.expect_download() as download:
        page.get_by_role("link", name=re.compile(r"^Result: .*\.zip$")).click()
    saved = tmp_path / "result.zip"
    download.value.save_as(saved)
    assert saved.stat().st_size > 1000 and saved.read_bytes()[:2] == b"PK"
    page.context.close()


@pytest.fixture(scope="module")
def long_job(stack: Stack) -> int:
    job_id = stack.submit("alice-secret", "long-horizon", nbyears=60)
    _wait_for(lambda: stack.job(job_id).tasks_running > 0, 60, "the long job running")
    return job_id


def test_the_workers_page_lists_the_workers(browser: Any, stack: Stack, long_job: int) -> None:
    pending = PilotInfo(job_id="4243", state="PENDING", reason="Priority", cores=8)
    report = PilotReport(manager="login01", max_pilots=2, interval_s=60, pilots=[pending])
    with stack.client("worker-secret") as manager:  # what `winjobs slurm` sends each round
        manager.report_pilots("hpc", report)
    page = _signed_in(browser, stack, "ops-secret")
    page.get_by_role("link", name="Workers").click()
    page.wait_for_url(f"{stack.url}/workers")
    pilots = page.get_by_role("table", name="Pilot jobs of the pool hpc, as Slurm shows them")
    row = pilots.get_by_role("row").filter(has=page.get_by_role("rowheader", name="4243"))
    assert row.inner_text().split("\t")[:3] == ["4243", "PENDING", "Priority"]
    assert page.get_by_role("heading", name="Slurm pool hpc").is_visible()
    table = page.get_by_role("table", name="Workers, by name")
    for name in WORKERS:
        row = table.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name))
        assert row.count() == 1, name
        assert "Linux" in row.inner_text() and "8.8" in row.inner_text()
        assert "in schedule" in row.inner_text()  # the owner's policy: schedule `always`
    page.locator(".badge-busy").first.wait_for()
    assert page.get_by_role("link", name=re.compile(f"of job #{long_job}")).count() >= 1
    _screenshot(page, "workers")
    page.context.close()


def test_a_user_cannot_cancel_someone_elses_job(browser: Any, stack: Stack, long_job: int) -> None:
    page = _signed_in(browser, stack, "bob-secret")
    response = page.goto(f"/jobs/{long_job}")  # not even its page: bob may not read it
    assert response is not None and response.status == 403
    assert "belongs to alice" in page.content()
    assert page.get_by_role("button", name="Cancel job").count() == 0
    _screenshot(page, "job-as-another-user")
    page.goto("/")  # the queue: alice's job is a line without a link
    assert page.get_by_role("link", name=f"#{long_job}", exact=True).count() == 0
    csrf = page.locator("input[name=csrf_token]").first.get_attribute("value")
    # a forged POST with bob's own session and CSRF token, from the page itself
    status = page.evaluate(
        """([path, csrf]) => fetch(path, {
             method: 'POST', body: new URLSearchParams({csrf_token: csrf}), redirect: 'manual'
           }).then(r => r.status)""",
        [f"/jobs/{long_job}/cancel", csrf],
    )
    assert status == 403
    forged = page.request.post(f"/jobs/{long_job}/cancel", form={"csrf_token": csrf})
    assert forged.status == 403 and "belongs to alice" in forged.text()
    assert not stack.job(long_job).status.is_final
    page.context.close()


def test_cancel_from_the_page_cancels_the_job(browser: Any, stack: Stack, long_job: int) -> None:
    page = _signed_in(browser, stack, "alice-secret")
    page.goto(f"/jobs/{long_job}")
    assert page.locator(".badge-running").first.is_visible()
    # the live refresh leaves alone a form being filled in
    priority = page.get_by_label(re.compile("^Priority"))
    priority.fill("70")
    page.wait_for_timeout(2500)  # two refreshes
    assert priority.input_value() == "70"
    assert page.evaluate("document.activeElement.id") == "priority"
    page.get_by_role("button", name="Change priority").click()
    page.get_by_role("status").filter(has_text=f"Priority of job {long_job} set to 70.").wait_for()
    assert stack.job(long_job).priority == 70
    page.get_by_role("button", name="Cancel job").click()
    page.get_by_role("status").filter(has_text=f"Job {long_job} cancelled").wait_for()
    assert stack.job(long_job).status is JobStatus.CANCELLED
    page.get_by_role("heading", level=1).filter(has_text="cancelled").wait_for()
    assert page.get_by_role("button", name="Retry unfinished years").is_visible()
    _wait_for(
        lambda: all(
            t.status == "cancelled" or t.status == "succeeded" for t in stack.job(long_job).tasks
        ),
        20,
        "the long job's tasks closed",
    )
    _screenshot(page, "job-cancelled")
    page.context.close()


def test_the_pages_work_without_javascript(browser: Any, stack: Stack, first_job: int) -> None:
    context = browser.new_context(base_url=stack.url, viewport=VIEWPORT, java_script_enabled=False)
    page = context.new_page()
    page.goto("/workers")
    page.get_by_label("Token").fill("ops-secret")
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{stack.url}/workers")
    assert page.get_by_role("rowheader", name=WORKERS[0]).is_visible()
    assert page.locator("[data-live-status]").is_hidden()  # no live refresh without JS
    page.get_by_role("link", name="Jobs", exact=True).click()
    page.get_by_label("Submitter").select_option("alice")
    page.get_by_role("button", name="Apply filters").click()
    assert "submitter=alice" in page.url
    page.get_by_role("link", name=f"#{first_job}").click()
    page.get_by_role("heading", level=1).filter(has_text="north-sea-2030").wait_for()
    page.get_by_role("button", name="Sign out").click()
    page.get_by_text("You are signed out.").wait_for()
    context.close()


def test_the_pool_summary_charts_why_a_job_waits_and_an_admins_hand(
    browser: Any, stack: Stack, first_job: int
) -> None:
    """Issue 15: the pool at a glance and its utilisation chart on the jobs page, the
    years-done chart with its ETA line, why a job waits, and an admin draining and
    releasing a worker with the workers page's buttons."""
    study = write_example_study(stack.tmp / "future", nbyears=2)
    marker = study / "study.antares"
    marker.write_text(marker.read_text().replace("version = 880", "version = 9.3"))
    archive = pack_study(study, stack.tmp / "future.zip").path
    with stack.client("alice-secret") as alice:
        future = alice.submit_job(archive, JobSubmitFields(name="future")).job_id
    page = _signed_in(browser, stack, "ops-secret")
    summary = page.locator("section.summary")
    assert "Cores busy" in summary.inner_text() and "8.8" in summary.inner_text()
    # the sampler records every second: the live refresh brings the chart in
    page.locator("#utilisation svg polyline.series").wait_for(timeout=30_000)
    assert "pool utilisation over the last 6 h" in (
        page.locator("#utilisation desc").text_content() or ""
    )
    waiting = page.locator(f"#job-{future} .wait-short")
    assert waiting.inner_text() == "no 9.3 solver"
    assert "no online worker has a solver for Antares 9.3" in (waiting.get_attribute("title") or "")
    _screenshot(page, "jobs-summary")

    page.goto(f"/jobs/{future}")
    reason = page.locator(".waiting-reason")
    assert "the online workers have 8.8" in reason.inner_text()
    with stack.client("ops-secret") as ops:
        ops.cancel_job(future)
    page.goto(f"/jobs/{first_job}")
    page.get_by_role("heading", level=1).filter(has_text="succeeded").wait_for(
        timeout=JOB_SUCCEEDS_MS
    )
    chart = page.get_by_role("img", name=re.compile("^Years done over time"))
    assert chart.is_visible()
    points = page.locator("#years-done polyline.series").get_attribute("points")
    assert points is not None and points.split()[-1].endswith(",0.0")  # all years done
    _screenshot(page, "job-chart")

    page.get_by_role("link", name="Workers").click()
    name = WORKERS[0]
    page.get_by_label(f"Reason for {name}").fill("OS update")
    page.get_by_role("button", name=f"Drain {name}").click()
    page.get_by_role("status").filter(has_text=f"Worker {name} draining").wait_for()
    row = page.get_by_role("row").filter(has=page.get_by_role("rowheader", name=name))
    assert "draining" in row.inner_text() and "OS update" in row.inner_text()
    _screenshot(page, "workers-drained")
    page.get_by_role("button", name=f"Release {name}").click()
    page.get_by_role("status").filter(has_text=f"Worker {name} released").wait_for()
    with stack.client("ops-secret") as ops:
        states = {w.name: w.state for w in ops.list_workers().workers}
    assert states[name] != "draining"
    page.context.close()


def test_the_owner_holds_and_releases_a_job_from_its_page(browser: Any, stack: Stack) -> None:
    # a 9.2 study: no worker of this pool can run it, so it stays queued for the test
    study = make_study(stack.tmp / "held-study", nbyears=3, version="9.2", caption="held-study")
    archive = pack_study(study, stack.tmp / "held-study.zip").path
    with stack.client("alice-secret") as alice:
        job_id = alice.submit_job(archive, JobSubmitFields(name="held-study")).job_id
    page = _signed_in(browser, stack, "alice-secret")
    page.goto(f"/jobs/{job_id}")
    page.get_by_label("Reason for holding (optional)").fill("waiting for the new costs")
    page.get_by_role("button", name="Hold job").click()
    page.get_by_role("status").filter(has_text=f"Job {job_id} held").wait_for()
    assert page.locator(".job-head .badge-held").is_visible()
    assert "Held by alice: waiting for the new costs" in page.locator(".held-note").inner_text()
    job = stack.job(job_id)
    assert (job.held, job.held_reason, job.status) == (True, "waiting for the new costs", "queued")
    _screenshot(page, "job-held")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Jobs").click()
    assert page.locator(f"#job-{job_id} .badge-held").is_visible()
    page.goto(f"/jobs/{job_id}")
    page.get_by_role("button", name="Release job").click()
    page.get_by_role("status").filter(has_text=f"Job {job_id} released").wait_for()
    assert page.locator(".job-head .badge-held").count() == 0
    assert page.get_by_role("button", name="Hold job").is_visible()
    assert stack.job(job_id).held is False
    page.context.close()


REDOC_BADGE = "image https://cdn.redoc.ly/redoc/logo-mini.svg"


def test_the_api_docs_load_with_the_network_off(browser: Any, stack: Stack) -> None:
    """/docs and /redoc on a network without internet: every request that is not for the
    driver itself is refused, as a company network without a way out would."""
    context = browser.new_context(base_url=stack.url, viewport=VIEWPORT)
    context.set_default_timeout(30_000)
    outside: list[str] = []

    def only_the_driver(route: Any) -> None:
        if route.request.url.startswith(stack.url):
            route.continue_()
        else:
            outside.append(f"{route.request.resource_type} {route.request.url}")
            route.abort("internetdisconnected")

    context.route("**/*", only_the_driver)
    page = context.new_page()
    page.goto("/docs")
    page.locator(".swagger-ui .info .title").filter(has_text="winjobs driver").wait_for()
    page.locator(".opblock-summary-path", has_text="/api/v1/jobs/{job_id}/hold").first.wait_for()
    _screenshot(page, "api-docs")
    page.goto("/redoc")
    page.get_by_role("heading", name=re.compile("^winjobs driver")).wait_for()
    page.get_by_text("/api/v1/jobs/{job_id}/release").first.wait_for(state="attached")
    _screenshot(page, "api-redoc")
    # All but ReDoc's "powered by" badge, whose logo its script asks of its own CDN: the
    # page works without it. Any script, style or font from outside would be here too.
    assert [url for url in outside if url != REDOC_BADGE] == []
    context.close()
