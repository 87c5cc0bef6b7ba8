"""The job commands end to end in-process: argv -> DriverClient -> the fake driver -> output."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tests.unit.cli.conftest import Cli, Result
from tests.unit.cli.fake_driver import BASE_URL, T0, FakeDriver, make_job, make_task
from winjobs.wire import (
    EtaBasis,
    JobStatus,
    PilotInfo,
    PilotPool,
    PolicyState,
    TaskStatus,
    WaitReason,
    WorkerState,
)


@pytest.fixture
def two_jobs(fake: FakeDriver) -> FakeDriver:
    fake.add(make_job(1, name="summer", submitter="bob", status=JobStatus.SUCCEEDED, years_done=10))
    fake.add(
        make_job(
            2,
            name="winter",
            priority=70,
            status=JobStatus.RUNNING,
            years_done=4,
            tasks_running=2,
            tasks=[
                make_task(
                    5,
                    2,
                    [0, 1, 2, 3],
                    status=TaskStatus.SUCCEEDED,
                    worker="pc-01",
                    attempts=1,
                    years_done=4,
                ),
                make_task(6, 2, [4, 5], status=TaskStatus.RUNNING, worker="pc-02", attempts=1),
            ],
        )
    )
    return fake


def test_jobs_lists_newest_first(cli: Cli, two_jobs: FakeDriver) -> None:
    result = cli("jobs")
    assert result.code == 0, result.err
    lines = [line.split() for line in result.out.splitlines()]
    assert lines[0] == ["ID", "NAME", "SUBMITTER", "PRIO", "STATUS", "PROGRESS", "AGE", "WAITING"]
    assert lines[1][:6] == ["2", "winter", "alice", "70", "running", "4/10"]
    assert lines[2][:6] == ["1", "summer", "bob", "50", "succeeded", "10/10"]


def test_tables_on_stdout_are_never_wrapped(cli: Cli, fake: FakeDriver) -> None:
    """stdout is not a terminal here (captured), as when piped: a 300-character name
    stays on its line whatever COLUMNS says (200 in these tests)."""
    name = "winter-" + "x" * 293
    fake.add(make_job(7, name=name, submitter="alice"))
    lines = cli("jobs").out.splitlines()
    assert len(lines) == 2
    assert lines[1].split()[:3] == ["7", name, "alice"]


def test_flags_are_shown_bare_in_help(cli: Cli) -> None:
    """Typer's help showed on/off flags as `--wait <bool>`, as if they took a value."""
    result = cli("submit", "--help")
    assert result.code == 0
    [wait] = [line for line in result.out.splitlines() if "Follow the job" in line]
    assert wait.split("Follow the job")[0].split() == ["│", "--wait"]
    assert "<bool>" not in result.out and "--json" in result.out
    assert "<int>" in cli("priority", "--help").out  # options with a value keep their type


def test_jobs_filters_and_json(cli: Cli, two_jobs: FakeDriver) -> None:
    result = cli("jobs", "--status", "succeeded", "--json")
    assert result.code == 0, result.err
    assert [j["id"] for j in json.loads(result.out)["jobs"]] == [1]
    assert two_jobs.requests[-1].url.params["status"] == "succeeded"
    assert cli("jobs", "--submitter", "nobody").err.strip() == "no jobs"


def test_jobs_limit_shows_the_newest_and_says_how_many_more(cli: Cli, two_jobs: FakeDriver) -> None:
    result = cli("jobs", "--limit", "1")
    assert result.code == 0, result.err
    assert [line.split()[0] for line in result.out.splitlines()[1:]] == ["2"]
    assert two_jobs.requests[-1].url.params["limit"] == "1"
    assert "the newest 1 of 2 jobs" in result.err
    assert json.loads(cli("jobs", "--limit", "1", "--json").out)["total"] == 2
    assert "offset" not in two_jobs.requests[-1].url.params
    assert cli("jobs", "--limit", "0").code != 0


def test_a_waiting_job_says_why_in_jobs_and_show(cli: Cli, fake: FakeDriver) -> None:
    reason = WaitReason(
        code="no_solver",
        short="no 9.3 solver",
        message="no online worker has a solver for Antares 9.3 (the online workers have 8.8)",
        pool_versions=["8.8"],
    )
    fake.add(make_job(3, name="future", antares_version="9.3", waiting=reason))
    listed = cli("jobs")
    assert listed.code == 0, listed.err
    row = listed.out.splitlines()[1].split()
    assert row[:5] == ["3", "future", "alice", "50", "queued"]
    assert listed.out.splitlines()[1].endswith("no 9.3 solver")
    shown = cli("show", "3")
    assert shown.code == 0, shown.err
    assert "waiting    no online worker has a solver for Antares 9.3" in shown.out
    assert json.loads(cli("show", "3", "--json").out)["waiting"]["code"] == "no_solver"


def test_show_names_what_the_eta_rests_on(cli: Cli, fake: FakeDriver) -> None:
    fake.add(
        make_job(4, status=JobStatus.RUNNING, eta_seconds=750.0, eta_basis=EtaBasis.HISTORY.value)
    )
    shown = cli("show", "4")
    assert "eta        12m 30s (from the study's earlier jobs; no year finished yet)" in shown.out


def test_show_human_and_json(cli: Cli, two_jobs: FakeDriver) -> None:
    human = cli("show", "2")
    assert human.code == 0, human.err
    assert "winter" in human.out and "5-6" in human.out and "pc-02" in human.out
    data = json.loads(cli("show", "2", "--json").out)
    assert data["years_done"] == 4 and data["years_total"] == 10
    assert [t["years"] for t in data["tasks"]] == [[0, 1, 2, 3], [4, 5]]


def test_unknown_job_is_one_line_and_exit_1(cli: Cli, fake: FakeDriver) -> None:
    result = cli("show", "99")
    assert result.code == 1
    assert result.err == "error: job 99 not found (HTTP 404)\n"
    assert result.out == ""


def test_refused_token_names_where_it_came_from(
    cli: Cli, fake: FakeDriver, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("WINJOBS_TOKEN", "stale")
    result = cli("jobs", "--driver", BASE_URL, auth=False)
    assert result.code == 1
    assert result.err.strip() == (
        "error: not signed in (check the token): missing or unknown token (HTTP 401) "
        "(token from WINJOBS_TOKEN)"
    )


def test_unreachable_driver_names_where_the_url_came_from(
    cli: Cli, fake: FakeDriver, user_dir: Path
) -> None:
    user_dir.mkdir()
    (user_dir / "config.yaml").write_text(f"driver: {BASE_URL}\ntoken: alice-token\n")
    fake.unreachable = True
    result = cli("workers", auth=False)
    assert result.code == 1
    assert result.err.startswith(f"error: cannot reach the driver at {BASE_URL}")
    assert result.err.rstrip().endswith(
        f"(driver URL from the user config file {user_dir / 'config.yaml'})"
    )
    assert len(result.err.strip().splitlines()) == 1


def test_debug_shows_the_traceback(cli: Cli, fake: FakeDriver) -> None:
    result = cli("show", "99", "--debug")
    assert result.code == 1
    assert "Traceback" in result.err and "ClientError" in result.err


def test_wait_follows_to_success(cli: Cli, two_jobs: FakeDriver) -> None:
    two_jobs.script(
        2,
        [
            {"years_done": 6},
            {"years_done": 8, "tasks_running": 1},
            {"years_done": 10, "tasks_running": 0, "status": JobStatus.SUCCEEDED},
        ],
    )
    result = cli("wait", "2")
    assert result.code == 0, result.err
    assert result.out.strip() == "job 2 succeeded (10 years)"
    assert result.err.splitlines() == [
        "job 2 running: 6/10 years, 2 tasks running",
        "job 2 running: 8/10 years, 1 task running",
        "job 2 succeeded: 10/10 years",
    ]


def test_counts_are_singular_for_one(cli: Cli, fake: FakeDriver) -> None:
    fake.add(make_job(3, years=[4], status=JobStatus.SUCCEEDED, years_done=1))
    assert cli("wait", "3").out == "job 3 succeeded (1 year)\n"
    assert "5 (1 year)" in cli("show", "3").out


def test_a_job_without_a_result_says_so_in_plain_words(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    fake.add(make_job(6, status=JobStatus.SUCCEEDED))  # its result was removed
    fake.jobs[6] = fake.jobs[6].model_copy(update={"result_available": False})
    result = cli("download", "6", str(tmp_path))
    assert result.err == "error: job 6 has succeeded: it has no result to download\n"


@pytest.mark.parametrize(
    ("update", "message"),
    [
        (
            {"status": JobStatus.FAILED, "error": "years 5-6 failed 3 times"},
            "error: job 2 failed: years 5-6 failed 3 times",
        ),
        ({"status": JobStatus.CANCELLED}, "error: job 2 cancelled"),
    ],
)
def test_wait_exits_3_unless_succeeded(
    cli: Cli, two_jobs: FakeDriver, update: dict[str, object], message: str
) -> None:
    two_jobs.script(2, [update])
    result = cli("wait", "2", "--json")
    assert result.code == 3
    assert result.err.splitlines()[-1] == message
    assert json.loads(result.out)["status"] == update["status"]


def test_cancel_own_job(cli: Cli, two_jobs: FakeDriver) -> None:
    result = cli("cancel", "2")
    assert (result.code, result.out) == (0, "job 2 cancelled\n")
    assert two_jobs.jobs[2].status == JobStatus.CANCELLED


def test_cancel_someone_elses_job_is_refused(cli: Cli, two_jobs: FakeDriver) -> None:
    result = cli("cancel", "1")
    assert result.code == 1
    assert result.err.strip() == "error: not allowed: job 1 belongs to bob (HTTP 403)"


def test_priority_changes_and_json(cli: Cli, two_jobs: FakeDriver) -> None:
    result = cli("priority", "2", "90", "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out)["priority"] == 90
    assert two_jobs.jobs[2].priority == 90
    assert cli("priority", "2", "10").out == "job 2 now has priority 10\n"


@pytest.mark.parametrize("bad", ["0", "101", "-5"])
def test_bad_priority_is_refused_before_any_request(
    cli: Cli, two_jobs: FakeDriver, bad: str
) -> None:
    result = cli("priority", "2", "--", bad) if bad.startswith("-") else cli("priority", "2", bad)
    assert result.code == 2
    assert result.err.strip() == (
        f"error: priority must be between 1 and 100 (higher runs first), not {bad}"
    )
    assert two_jobs.requests == []
    assert two_jobs.jobs[2].priority == 70


def test_retry_only_failed_jobs(cli: Cli, two_jobs: FakeDriver) -> None:
    refused = cli("retry", "2")
    assert refused.code == 1
    assert "only a failed job can be retried (HTTP 409)" in refused.err
    two_jobs.jobs[2] = two_jobs.jobs[2].model_copy(update={"status": JobStatus.FAILED})
    result = cli("retry", "2")
    assert (result.code, result.out) == (0, "job 2 queued again (years already done: 4/10 (40%))\n")


def test_hold_and_release(cli: Cli, two_jobs: FakeDriver) -> None:
    held = cli("hold", "2", "--reason", "new costs coming")
    assert held.code == 0, held.err
    assert held.out == (
        "job 2 held: by alice: new costs coming (no new task starts; 2 running tasks "
        "finish; winjobs release 2 lets it go on)\n"
    )
    assert json.loads(two_jobs.requests[-1].content) == {"reason": "new costs coming"}
    shown = cli("show", "2").out
    assert "running, held" in shown and "by alice: new costs coming" in shown
    assert "running, held" in cli("jobs").out
    again = cli("hold", "2")
    assert (again.code, again.err) == (1, "error: cannot hold job 2: it is running (HTTP 409)\n")
    released = cli("release", "2", "--json")
    assert released.code == 0 and json.loads(released.out)["held"] is False
    assert cli("release", "2").err == (
        "error: job 2 is not held: there is nothing to release (HTTP 409)\n"
    )
    assert cli("hold", "2").out.startswith("job 2 held: by alice (no new task starts;")
    assert cli("release", "2").out == "job 2 released: it is running again\n"
    refused = cli("hold", "1")
    assert refused.err.strip() == "error: not allowed: job 1 belongs to bob (HTTP 403)"


def test_a_held_job_is_followed_without_an_eta(cli: Cli, two_jobs: FakeDriver) -> None:
    two_jobs.script(
        2,
        [
            {"held": True, "held_by": "alice", "years_done": 6, "eta_seconds": 30.0},
            {"years_done": 10, "tasks_running": 0, "status": JobStatus.SUCCEEDED},
        ],
    )
    result = cli("wait", "2")
    assert result.err.splitlines()[0] == "job 2 running, held: 6/10 years, 2 tasks running"


def test_logs_of_job_and_task(cli: Cli, two_jobs: FakeDriver) -> None:
    two_jobs.job_logs[2] = "09:00 job 2 submitted by alice\n09:01 task 5 claimed by pc-01\n"
    two_jobs.task_logs[(2, 6)] = "[solver] MC-Years : [5..6], total: 2"
    assert cli("logs", "2").out == two_jobs.job_logs[2]
    assert cli("logs", "2", "--task", "6").out == "[solver] MC-Years : [5..6], total: 2\n"
    as_json = json.loads(cli("logs", "2", "--task", "6", "--json").out)
    assert as_json == {"job_id": 2, "task_id": 6, "log": two_jobs.task_logs[(2, 6)]}
    assert json.loads(cli("logs", "2", "--json").out)["log"] == two_jobs.job_logs[2]
    missing = cli("logs", "2", "--task", "7")
    assert (missing.code, missing.err.strip()) == (1, "error: job 2 has no task 7 (HTTP 404)")


def test_workers_table_and_json(cli: Cli, fake: FakeDriver) -> None:
    assert cli("workers").err.strip() == "no workers have registered yet"
    fake.add_worker("pc-01", state=WorkerState.BUSY, current_task=6, current_job=2)
    fake.add_worker("pc-02", cores=2)
    lines = cli("workers").out.splitlines()
    assert lines[0].split() == [
        "NAME",
        "CORES",
        "VERSIONS",
        "STATE",
        "POLICY",
        "NEXT",
        "WORK",
        "RUNNING",
        "LAST",
        "SEEN",
    ]
    assert lines[1].split()[:8] == ["pc-01", "4", "8.8", "busy", "-", "-", "task", "6"]
    data = json.loads(cli("workers", "--json").out)
    assert [w["name"] for w in data["workers"]] == ["pc-01", "pc-02"]


def test_workers_show_their_owner_s_policy_and_next_work(cli: Cli, fake: FakeDriver) -> None:
    fake.add_worker(
        "pc-01",
        state=WorkerState.BUSY,
        current_task=6,
        current_job=2,
        policy=PolicyState.SUSPENDED,
        policy_reason="keyboard or mouse used 3s ago",
    )
    fake.add_worker("pc-02", policy=PolicyState.IN_SCHEDULE)
    opens = datetime.now(UTC) + timedelta(hours=9, minutes=30, seconds=20)
    fake.add_worker("pc-03", policy=PolicyState.OUTSIDE_SCHEDULE, next_work_at=opens)
    fake.add_worker("pc-04", policy=PolicyState.IN_SCHEDULE, state=WorkerState.OFFLINE)
    cells = {
        cols[0]: cols[3:7]
        for cols in (re.split(r"\s{2,}", line.strip()) for line in cli("workers").out.splitlines())
    }
    assert cells["pc-01"] == ["busy", "suspended", "when its owner leaves", "task 6 (job 2)"]
    assert cells["pc-02"] == ["idle", "in schedule", "now", "-"]
    next_open = f"{opens.astimezone():%a %H:%M} (in 9h 30m)"
    assert cells["pc-03"] == ["idle", "outside schedule", next_open, "-"]
    assert cells["pc-04"] == ["offline", "in schedule", "-", "-"]
    data = json.loads(cli("workers", "--json").out)
    assert data["workers"][0]["policy"] == "suspended"
    assert data["workers"][0]["policy_reason"] == "keyboard or mouse used 3s ago"
    assert datetime.fromisoformat(data["workers"][2]["next_work_at"]) == opens


def test_workers_shows_the_pilots_still_pending_in_slurm(cli: Cli, fake: FakeDriver) -> None:
    pilot = PilotInfo(job_id="4243", state="PENDING", reason="Resources", cores=8)
    fake.pools.append(
        PilotPool(name="hpc", manager="login01", max_pilots=2, reported_at=T0, pilots=[pilot])
    )
    result = cli("workers")
    assert result.err.strip() == "no workers have registered yet"
    assert "Slurm pool hpc (manager login01, 1/2 pilots" in result.out
    assert "4243    PENDING  Resources" in result.out
    data = json.loads(cli("workers", "--json").out)
    assert data["pools"][0]["pilots"][0]["reason"] == "Resources"


def test_job_id_must_be_a_number(cli: Cli, fake: FakeDriver) -> None:
    result = cli("show", "abc")
    assert result.code == 2
    assert fake.requests == []


HELD = "solver crashed 3 times in a row: the solver crashed (SIGSEGV, exit status 139)"


def test_workers_says_why_a_worker_is_held(cli: Cli, fake: FakeDriver) -> None:
    fake.add_worker("pc-01", state=WorkerState.BUSY, current_task=6, current_job=2)
    fake.add_worker(
        "pc-02",
        state=WorkerState.HELD,
        held_reason=HELD,
        held_at=T0 - timedelta(minutes=5),
        held_by="driver",
        failures_in_a_row=3,
    )
    out = cli("workers").out
    lines = out.splitlines()
    assert lines[2].split()[:4] == ["pc-02", "4", "8.8", "held"]
    assert re.search(rf"pc-02  held \(\d+[smhd] ago\): {re.escape(HELD)}", out), out
    assert "winjobs worker-admin release NAME" in out
    [held] = [w for w in json.loads(cli("workers", "--json").out)["workers"] if w["held_reason"]]
    assert (held["name"], held["state"], held["failures_in_a_row"]) == ("pc-02", "held", 3)


def _admin(cli: Cli, *args: str, token: str = "ops-token") -> Result:
    return cli("worker-admin", *args, "--driver", BASE_URL, "--token", token, auth=False)


def test_worker_admin_release(cli: Cli, fake: FakeDriver) -> None:
    fake.add_worker("pc 02", state=WorkerState.HELD, held_reason=HELD, held_at=T0)
    fake.add_worker("pc-03")
    refused = _admin(cli, "release", "pc 02", token="alice-token")
    assert refused.code == 1 and "not allowed" in refused.err and "admin" in refused.err
    done = _admin(cli, "release", "pc 02")
    assert (done.code, done.out.strip()) == (
        0,
        "worker pc 02 released: it takes tasks again (idle)",
    )
    assert fake.requests[-1].url.raw_path == b"/api/v1/workers/pc%2002/release"
    again = _admin(cli, "release", "pc 02", "--json")
    assert (again.code, again.err.strip()) == (1, "error: worker pc 02 is not held (HTTP 409)")
    missing = _admin(cli, "release", "ghost")
    assert (missing.code, missing.err.strip()) == (1, "error: no worker named 'ghost' (HTTP 404)")
    fake.workers[1] = fake.workers[1].model_copy(update={"held_reason": "x", "held_at": T0})
    as_json = _admin(cli, "release", "pc-03", "--json")
    assert json.loads(as_json.out)["name"] == "pc-03"
    helped = cli("worker-admin", "--help", auth=False)
    assert helped.code == 0 and "release" in helped.out
