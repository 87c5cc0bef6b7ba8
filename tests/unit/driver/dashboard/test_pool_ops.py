"""Issue 15 on the dashboard, read without JavaScript: why a job waits (the jobs list, the
job page, its queued tasks) and an admin's hand on every worker (hold, drain, release,
forget), refused to users by the domain."""

from __future__ import annotations

from fastapi.testclient import TestClient

from tests.unit.driver.dashboard.conftest import Dash, csrf_of
from tests.unit.driver.helpers import claim
from winjobs.wire import Heartbeat, TaskFailure, WorkerInfo, WorkerState


def _worker(dash: Dash, name: str) -> WorkerInfo:
    workers = dash.api.client("ops-secret").list_workers().workers
    return next(w for w in workers if w.name == name)


def _row(page: str, key: str) -> str:
    row = page[page.index(f'data-key="{key}"') :]
    return row[: row.index("</tr>")]


def test_a_job_no_worker_can_run_says_why_everywhere(dash: Dash) -> None:
    dash.api.worker("pc-01", versions=("8.8",))
    job_id = dash.submit("alice", version="9.3", caption="future")
    browser = dash.browser("alice")

    row = _row(browser.get("/").text, f"job-{job_id}")
    assert ">no 9.3 solver</span>" in row
    assert 'title="no online worker has a solver for Antares 9.3 (the online workers ' in row
    page = browser.get(f"/jobs/{job_id}").text
    assert 'class="waiting-reason" data-code="no_solver"' in page
    assert "<strong>Why it waits (no 9.3 solver):</strong> no online worker has" in page
    assert browser.get(f"/fragment/jobs/{job_id}").text.count("waiting-reason") == 1

    dash.api.worker("pc-02", versions=("9.3",))  # the reason follows the pool
    assert "waiting-reason" in browser.get(f"/jobs/{job_id}").text
    assert 'data-code="starting"' in browser.get(f"/jobs/{job_id}").text


def test_a_queued_task_shows_its_own_reason(dash: Dash) -> None:
    job_id = dash.submit("alice", nbyears=2)
    worker = dash.api.worker("pc-01", cores=2)
    task = claim(worker, cores=2)
    worker.fail_task(task.task_id, TaskFailure(attempt=1, reason="exit 1"))
    dash.api.client("ops-secret").hold_worker("pc-01", "disk to replace")
    page = dash.browser("alice").get(f"/jobs/{job_id}").text
    row = page[page.index(f'id="task-{task.task_id}"') :]
    assert '<div class="wait-short" title="the workers that could run it take no work now: ' in row
    assert ">workers held</div>" in row[: row.index("</tr>")]
    assert "pc-01 held (disk to replace)" in page


def test_an_admin_holds_drains_releases_and_forgets_workers(dash: Dash) -> None:
    dash.api.worker("pc-01")
    dash.api.worker("pc-02")
    browser = TestClient(dash.api.app)  # follows redirects, like a browser
    browser.post("/signin", data={"token": "ops-secret"})
    page = browser.get("/workers").text
    assert 'action="/workers/pc-01/drain"' in page and 'formaction="/workers/pc-01/hold"' in page
    csrf = csrf_of(page)

    done = browser.post("/workers/pc-01/hold", data={"csrf_token": csrf, "reason": "new disk"})
    assert done.url.path == "/workers" and "Worker pc-01 held" in done.text
    held = _worker(dash, "pc-01")
    assert (held.state, held.held_reason, held.held_by) == (WorkerState.HELD, "new disk", "ops")
    assert 'action="/workers/pc-01/release"' in done.text and "new disk" in done.text

    again = browser.post("/workers/pc-01/drain", data={"csrf_token": csrf})
    assert "worker pc-01 is held already (new disk): release it first" in again.text
    done = browser.post("/workers/pc-01/release", data={"csrf_token": csrf})
    assert "Worker pc-01 released" in done.text and _worker(dash, "pc-01").state is WorkerState.IDLE

    done = browser.post("/workers/pc-02/drain", data={"csrf_token": csrf, "reason": ""})
    drained = _worker(dash, "pc-02")
    assert drained.state is WorkerState.DRAINING and drained.drain_reason == "drained by ops"
    assert "drained by ops" in done.text

    refused = browser.post("/workers/pc-01/forget", data={"csrf_token": csrf})
    assert "worker pc-01 is online" in refused.text
    dash.api.clock.advance(3600)
    page = browser.get("/workers").text
    assert 'action="/workers/pc-01/forget"' in page
    done = browser.post("/workers/pc-01/forget", data={"csrf_token": csrf})
    assert "Worker pc-01 forgotten" in done.text
    assert [w.name for w in dash.api.client("ops-secret").list_workers().workers] == ["pc-02"]


def test_users_see_no_worker_buttons_and_a_forged_form_changes_nothing(dash: Dash) -> None:
    dash.api.worker("pc-01")
    browser = dash.browser("alice")
    page = browser.get("/workers").text
    assert "/workers/pc-01/hold" not in page and "/workers/pc-01/drain" not in page
    for action in ("hold", "drain", "release", "forget"):
        refused = browser.post(f"/workers/pc-01/{action}", data={"csrf_token": csrf_of(page)})
        assert refused.status_code == 403, action
        assert "acting on a worker needs a admin token; alice is a user" in refused.text
    assert _worker(dash, "pc-01").state is WorkerState.IDLE


def test_the_jobs_page_sums_the_pool_up_and_charts_its_load(dash: Dash) -> None:
    job_id = dash.submit("alice", nbyears=8)
    worker = dash.api.worker("pc-01", cores=4)
    dash.api.worker("pc-02", cores=4, versions=("9.2",))
    task = claim(worker, cores=4)
    sampler = dash.api.app.state.driver.sampler
    browser = dash.browser("alice")
    page = browser.get("/").text
    assert "<dt>Cores busy</dt><dd>4 / 8</dd>" in page
    assert "<dt>Solvers</dt><dd>8.8, 9.2</dd>" in page
    assert "<dt>Jobs</dt><dd>0 queued, 1 running</dd>" in page
    assert "Not enough samples yet" in page
    sampler.tick()
    dash.api.clock.advance(60)
    dash.api.worker("pc-02", cores=4, versions=("9.2",))
    worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt, years_done=2))
    sampler.tick()
    fragment = browser.get("/fragment/jobs").text
    assert 'id="utilisation"' in fragment
    assert "50 % of the online cores busy on average, 50 % now" in fragment

    job_page = browser.get(f"/jobs/{job_id}").text
    assert 'id="years-done"' in job_page and 'class="eta"' in job_page
    assert "2 of 8 years done; all done by" in job_page
    assert "Dashed: the ETA, from the years its solvers reported" in job_page
