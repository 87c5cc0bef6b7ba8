"""The pages and their fragments, read as a browser without JavaScript reads them."""

from __future__ import annotations

import re
import socket
from datetime import timedelta
from pathlib import Path

from fastapi.testclient import TestClient

from tests.unit.driver.dashboard.conftest import TOKENS, Dash
from tests.unit.driver.helpers import Api, FakeClock, claim, driver_settings, packed_study
from tests.unit.driver.test_store_copies import copied
from winjobs.driver.app import create_app
from winjobs.driver.dashboard.rendering import static_url
from winjobs.wire import (
    FailureEvidence,
    FailureKind,
    Heartbeat,
    JobSubmitFields,
    PilotInfo,
    PilotReport,
    PolicyReport,
    PolicyState,
    TaskFailure,
    WorkerRegistration,
)


def rows(html: str) -> list[str]:
    """The job ids of a jobs table, in order."""
    return re.findall(r'<tr data-key="job-(\d+)"', html)


def test_the_job_list_newest_first_with_progress(dash: Dash) -> None:
    first = dash.submit("alice", nbyears=4, caption="first")
    second = dash.submit("bob", nbyears=6, caption="second")
    worker = dash.api.worker(cores=2)
    task = claim(worker, cores=2)
    worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=1))
    dash.api.clock.advance(125)
    page = dash.browser("alice").get("/").text
    assert rows(page) == [str(second), str(first)]
    row = page[page.index(f'data-key="job-{first}"') :]
    row = row[: row.index("</tr>")]
    assert '<a href="/jobs/1">#1</a>' in row and "first" in row
    assert 'badge-running">running</span>' in row
    assert 'aria-valuenow="1"' in row and 'aria-valuemax="4"' in row
    assert 'style="width: 25%"' in row and "1/4" in row
    assert '<td class="num">1</td>' in row  # running tasks
    assert "2 min" in row  # age
    assert "2 jobs." in page


def test_filters_live_in_the_query_string(dash: Dash) -> None:
    alice_job = dash.submit("alice")
    bob_job = dash.submit("bob")
    dash.api.client("bob-secret").cancel_job(bob_job)
    browser = dash.browser("ops")
    for query, expected in (
        ("", [bob_job, alice_job]),
        ("?status=cancelled", [bob_job]),
        ("?status=queued", [alice_job]),
        ("?submitter=alice", [alice_job]),
        ("?submitter=alice&status=cancelled", []),
    ):
        page = browser.get(f"/{query}").text
        fragment = browser.get(f"/fragment/jobs{query}").text
        assert rows(page) == rows(fragment) == [str(j) for j in expected], query
    page = browser.get("/?status=cancelled&submitter=bob").text
    assert '<option value="cancelled" selected>' in page
    assert '<option value="bob" selected>' in page
    assert "1 job matching these filters." in page
    assert "No job matches these filters." in browser.get("/?submitter=nobody").text
    odd = browser.get("/?status=lost").text
    assert "unknown status &#39;lost&#39;: showing every status" in odd
    assert len(rows(odd)) == 2


def test_fragments_are_the_live_part_only(dash: Dash) -> None:
    dash.submit("alice")
    browser = dash.browser("alice")
    fragment = browser.get("/fragment/jobs")
    assert fragment.status_code == 200
    assert "<html" not in fragment.text and "<table" in fragment.text
    assert 'data-key="table"' in fragment.text
    assert fragment.headers["cache-control"] == "no-store"
    page = browser.get("/").text
    assert 'data-live="/fragment/jobs" aria-live="polite"' in page
    assert browser.get("/fragment/workers").status_code == 200
    assert browser.get("/fragment/jobs/1").status_code == 200
    stranger = dash.browser()
    for path in ("/fragment/jobs", "/fragment/jobs/1", "/fragment/workers"):
        assert stranger.get(path).status_code == 401


def test_paging(tmp_path: Path) -> None:
    clock = FakeClock()
    app = create_app(driver_settings(tmp_path / "d", dashboard={"jobs_per_page": 2}), clock=clock)
    with TestClient(app) as http:
        (tmp_path / "studies").mkdir()
        paged = Dash(Api(app, http, clock), tmp_path / "studies")
        ids = [paged.submit("alice") for _ in range(3)]
        browser = paged.browser("alice")
        first = browser.get("/").text
        second = browser.get("/?page=2").text
        stale = browser.get("/?page=9").text
    assert rows(first) == [str(ids[2]), str(ids[1])]
    assert 'href="/?page=2" rel="next">Older jobs' in first
    assert rows(second) == [str(ids[0])] and "page 2 of 2" in second
    assert 'href="/" rel="prev"' in second
    assert rows(stale) == [str(ids[0])] and "page 2 of 2" in stale  # past the end: the last


def test_the_job_page(dash: Dash) -> None:
    job_id = dash.submit("alice", nbyears=4, caption="storm")
    worker = dash.api.worker(name="pc-01", cores=2)
    failing = claim(worker, cores=2)
    worker.fail_task(
        failing.task_id,
        TaskFailure(attempt=failing.attempt, reason="solver exit 1", log_tail="[fatal] <boom>"),
    )
    dash.api.clock.advance(30)
    task = claim(worker, cores=2)  # the same years again, attempt 2
    worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=1))
    dash.api.clock.advance(30)
    page = dash.browser("alice").get(f"/jobs/{job_id}")
    assert page.status_code == 200
    html = page.text
    assert "Job #1: storm" in html and 'badge-running">running</span>' in html
    assert "<dt>Submitter</dt><dd>alice</dd>" in html
    assert "<dt>MC years</dt><dd>1-4 (4 in all)</dd>" in html
    assert 'class="lane-name" id="lane-1">pc-01</div>' in html
    assert 'href="#task-1"' in html and "left: 0.0%; width: 100.0%" in html
    assert '<tr id="task-1">' in html and "1/2" in html and '<td class="num">2</td>' in html
    assert "solver exit 1" in html and "[fatal] &lt;boom&gt;" in html  # escaped
    assert '<a href="/api/v1/jobs/1/tasks/1/log">' in html
    assert '<a href="/api/v1/jobs/1/log">Job log (all of it)</a>' in html
    assert "Result: once the job has succeeded" in html
    assert "submitted by alice" in html  # the job log
    assert "Where the finished years live" not in html  # HTTP mode: all on the driver
    assert dash.browser("alice").get(f"/fragment/jobs/{job_id}").text.count("<h1") == 1


def test_unknown_job_is_an_html_404(dash: Dash) -> None:
    response = dash.browser("alice").get("/jobs/999")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"] and "no job 999" in response.text
    assert dash.browser("alice").get("/fragment/jobs/999").status_code == 404


def test_the_workers_page(dash: Dash) -> None:
    browser = dash.browser("alice")
    assert "No worker has registered yet" in browser.get("/workers").text
    dash.submit("alice", nbyears=4)
    busy = dash.api.worker(name="pc-01", cores=2, versions=("8.8", "9.2"))
    dash.api.worker(name="pc-02", cores=8)
    task = claim(busy, cores=2)
    dash.api.clock.advance(61)
    html = browser.get("/workers").text
    assert "2 workers: 1 idle, 1 busy." in html
    pc01 = html[html.index('<th scope="row">pc-01</th>') :]
    pc01 = pc01[: pc01.index("</tr>")]
    assert "<td>Linux-test</td>" in pc01 and '<td class="num">2</td>' in pc01
    assert "<td>8.8, 9.2</td>" in pc01 and 'badge-busy">busy</span>' in pc01
    assert f'href="/jobs/1#task-{task.task_id}">task #{task.task_id} of job #1</a>' in pc01
    assert "1 min ago" in pc01
    dash.api.clock.advance(120)
    assert 'badge-offline">offline</span>' in browser.get("/fragment/workers").text


def test_the_workers_page_shows_each_owner_s_policy(dash: Dash) -> None:
    office = dash.api.client("worker-secret")
    reports = {
        "office": PolicyReport(state=PolicyState.SUSPENDED, reason="keyboard or mouse used 2s ago"),
        "night": PolicyReport(
            state=PolicyState.OUTSIDE_SCHEDULE,
            reason="outside its schedule (opens mon 19:00)",
            next_work_at=dash.api.clock() + timedelta(hours=2),
        ),
        "lab": PolicyReport(state=PolicyState.IN_SCHEDULE, reason="in window 'always'"),
    }
    for name, report in reports.items():
        office.register_worker(
            WorkerRegistration(name=name, cores=4, os="Windows-10", versions=["8.8"], policy=report)
        )
    dash.api.worker(name="old")  # a worker that reports no policy
    html = dash.browser("alice").get("/workers").text

    def row(name: str) -> str:
        found = html[html.index(f'<th scope="row">{name}</th>') :]
        return found[: found.index("</tr>")]

    assert 'badge-policy-suspended">suspended</span>' in row("office")
    assert "<small>keyboard or mouse used 2s ago</small>" in row("office")
    assert "when its owner leaves" in row("office")
    assert 'badge-policy-outside_schedule">outside schedule</span>' in row("night")
    assert ">in 2 h 00 min</time>" in row("night")
    assert 'badge-policy-in_schedule">in schedule</span>' in row("lab")
    assert "<td>now</td>" in row("lab")
    assert '<td class="policy">—</td>' in row("old")


def test_the_workers_page_shows_held_workers_and_why(dash: Dash) -> None:
    dash.submit("alice", nbyears=12)
    broken, healthy = dash.api.worker(name="broken", cores=2), dash.api.worker(name="healthy")
    done = claim(healthy, cores=2)
    assert healthy.worker_id is not None
    dash.api.driver.store.complete_task(done.task_id, healthy.worker_id, done.attempt, "")
    for _ in range(3):
        task = claim(broken, cores=2)
        broken.fail_task(
            task.task_id,
            TaskFailure(
                attempt=task.attempt,
                reason="the solver crashed (SIGSEGV, exit status 139)",
                kind=FailureKind.MACHINE,
                evidence=FailureEvidence(exit_status=139, signal="SIGSEGV"),
            ),
        )
    dash.api.clock.advance(60)
    html = dash.browser("alice").get("/fragment/workers").text
    assert "2 workers: 1 idle, 1 held." in html
    row = html[html.index('<th scope="row">broken</th>') :]
    row = row[: row.index("</tr>")]
    assert 'badge-held">held</span>' in row
    assert "solver crashed 3 times in a row: the solver crashed (SIGSEGV, exit status 139)" in row
    assert "(held 1 min ago)" in row
    assert "winjobs worker-admin release NAME" in html


def test_every_page_sends_protective_headers(dash: Dash) -> None:
    browser = dash.browser("alice")
    for path in ("/", "/workers", "/signin", "/fragment/jobs"):
        headers = browser.get(path, follow_redirects=True).headers
        assert headers["cache-control"] == "no-store"
        assert "frame-ancestors 'none'" in headers["content-security-policy"]
        assert "script-src 'self';" in headers["content-security-policy"]
        assert headers["x-frame-options"] == "DENY"


def test_static_files_are_served_by_the_driver(dash: Dash) -> None:
    browser = dash.browser()
    page = browser.get("/signin").text
    for name in ("dashboard.css", "dashboard.js"):
        url = static_url(name)
        assert url in page
        response = browser.get(url)
        assert response.status_code == 200 and len(response.content) > 1000
    assert "<script>" not in page  # no inline script: the CSP forbids it
    assert "://" not in page  # nothing fetched from elsewhere


def test_the_dashboard_stays_out_of_the_api_docs(dash: Dash) -> None:
    paths = dash.api.http.get("/openapi.json").json()["paths"]
    assert not [p for p in paths if not p.startswith(("/api/", "/health", "/metrics"))]


def test_the_job_page_tells_how_its_notifications_went(dash: Dash) -> None:
    with socket.socket() as probe:  # a loopback port nobody listens on
        probe.bind(("127.0.0.1", 0))
        dead = f"http://127.0.0.1:{probe.getsockname()[1]}/<hook>"
    alice = dash.api.client("alice-secret")
    archive = packed_study(dash.tmp, name="told")
    job_id = alice.submit_job(archive, JobSubmitFields(notify=dead)).job_id
    assert "Told when it ends" in dash.browser("alice").get(f"/jobs/{job_id}").text
    alice.cancel_job(job_id)
    dash.api.driver.notifier.send_due()
    html = dash.browser("alice").get(f"/jobs/{job_id}").text
    target = dead.replace("<", "&lt;").replace(">", "&gt;")
    assert f"<li><code>{target}</code>: retrying after 1 attempt (ConnectError" in html


def test_the_workers_page_shows_slurm_pilots(dash: Dash) -> None:
    pilots = [
        PilotInfo(job_id="4242", state="RUNNING", node="node07", worker="hpc-4242-node07",
                  cores=16),
        PilotInfo(job_id="4243", state="PENDING", reason="QOSMaxJobsPerUserLimit", cores=16,
                  submitted_at=dash.api.clock() - timedelta(seconds=90)),
    ]  # fmt: skip
    report = PilotReport(
        manager="login01", partition="long", max_pilots=4, interval_s=15, pilots=pilots,
        problem="sbatch refused a pilot: sbatch: error: <over quota>",
    )  # fmt: skip
    dash.api.client("worker-secret").report_pilots("hpc", report)
    html = dash.browser("alice").get("/fragment/workers").text
    assert "No worker has registered yet" in html  # pending pilots are no workers yet
    assert '<h2 id="pool-hpc">Slurm pool hpc</h2>' in html
    assert "Partition long, manager on login01, 2 of at most 4 pilots" in html
    assert "sbatch: error: &lt;over quota&gt;" in html  # Slurm's words, escaped
    pending = html[html.index('data-key="pilot-hpc-4243"') :]
    pending = pending[: pending.index("</tr>")]
    assert 'badge-pending">PENDING</span>' in pending
    assert "<td>QOSMaxJobsPerUserLimit</td>" in pending and "1 min ago" in pending
    assert "<td>hpc-4242-node07</td>" in html


def test_the_job_page_and_the_api_show_a_speculative_copy(dash: Dash) -> None:
    store = dash.api.driver.store
    job_id, slow, copy, ids = copied(store, dash.api.clock)
    line = "attempt 2 on w1, a copy of attempt 1 on w3, runs beside it"
    assert line in dash.browser("alice").get(f"/jobs/{job_id}").text
    store.complete_task(copy.task_id, ids["w1"], copy.attempt, "")
    detail = dash.api.client(TOKENS["alice"]).get_job(job_id)
    task = next(t for t in detail.tasks if t.id == slow.task_id)
    assert task.speculative_copy is not None
    assert (task.worker, task.attempts, task.speculative_copy.status.value) == ("w1", 2, "won")
    html = dash.browser("alice").get(f"/jobs/{job_id}").text
    assert "a copy of attempt 1 on w3, finished first: its output is the task&#39;s" in html
