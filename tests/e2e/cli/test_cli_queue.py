"""Submitting and managing queued jobs, and every error path, against a real driver with no
worker (jobs stay queued as long as the test needs)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.cli.conftest import TOKENS, User, one_error_line
from winjobs.antares.example import example_study_path
from winjobs.cli.demo import free_port


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return Path(shutil.copytree(example_study_path(), tmp_path / "winter"))


def submit(user: User, study: Path, *args: str) -> int:
    result = user.run("submit", str(study), "--json", *args)
    assert result.returncode == 0, result.stderr
    return int(json.loads(result.stdout)["job_id"])


def show(user: User, job_id: int) -> dict[str, object]:
    result = user.run("show", str(job_id), "--json")
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert isinstance(data, dict)
    return data


def test_submit_show_jobs_and_the_json_contract(idle_user: User, study: Path) -> None:
    job_id = submit(idle_user, study, "--years", "2-4,7", "--priority", "60", "--name", "w")
    job = show(idle_user, job_id)
    assert {k: job[k] for k in ("id", "status", "priority", "years_total", "years_done")} == {
        "id": job_id,
        "status": "queued",
        "priority": 60,
        "years_total": 4,
        "years_done": 0,
    }
    assert job["years"] == [1, 2, 3, 6]
    assert job["tasks"] == []
    human = idle_user.run("show", str(job_id))
    assert human.returncode == 0, human.stderr
    assert "2-4,7 (4 years)" in human.stdout
    listing = idle_user.run("jobs")
    row = next(
        line.split() for line in listing.stdout.splitlines() if line.split()[:1] == [str(job_id)]
    )
    assert row[1:6] == ["w", "alice", "60", "queued", "0/4"]
    data = json.loads(idle_user.run("jobs", "--status", "queued", "--json").stdout)
    assert job_id in [j["id"] for j in data["jobs"]]
    log = idle_user.run("logs", str(job_id))
    assert log.returncode == 0 and "alice" in log.stdout


def test_priority_cancel_and_refusals(idle_user: User, study: Path) -> None:
    job_id = submit(idle_user, study, "--years", "1")
    changed = idle_user.run("priority", str(job_id), "90")
    assert (changed.returncode, changed.stdout) == (0, f"job {job_id} now has priority 90\n")
    for bad in ("0", "101"):
        refused = idle_user.run("priority", str(job_id), bad)
        assert refused.returncode == 2
        assert one_error_line(refused) == (
            f"error: priority must be between 1 and 100 (higher runs first), not {bad}"
        )
    not_yours = idle_user.run("cancel", str(job_id), token=TOKENS["bob"])
    assert not_yours.returncode == 1
    assert "not allowed" in one_error_line(not_yours) and "(HTTP 403)" in not_yours.stderr
    assert show(idle_user, job_id)["priority"] == 90
    cancelled = idle_user.run("cancel", str(job_id))
    assert (cancelled.returncode, cancelled.stdout) == (0, f"job {job_id} cancelled\n")
    assert show(idle_user, job_id)["status"] == "cancelled"
    no_result = idle_user.run("download", str(job_id), str(study / "output"))
    assert no_result.returncode == 1
    assert (
        one_error_line(no_result)
        == f"error: job {job_id} was cancelled: it has no result to download"
    )


def test_hold_and_release(idle_user: User, study: Path) -> None:
    job_id = submit(idle_user, study, "--years", "1")
    held = idle_user.run("hold", str(job_id), "--reason", "new costs coming")
    assert held.returncode == 0, held.stderr
    assert held.stdout.startswith(f"job {job_id} held: by alice: new costs coming (no new task")
    job = show(idle_user, job_id)
    assert (job["status"], job["held"], job["held_by"]) == ("queued", True, "alice")
    assert "queued, held" in idle_user.run("show", str(job_id)).stdout
    by_bob = idle_user.run("release", str(job_id), token=TOKENS["bob"])
    assert by_bob.returncode == 1 and "(HTTP 403)" in one_error_line(by_bob)
    released = idle_user.run("release", str(job_id))
    assert (released.returncode, released.stdout) == (
        0,
        f"job {job_id} released: it is queued again\n",
    )
    twice = idle_user.run("release", str(job_id))
    assert twice.returncode == 1
    assert one_error_line(twice) == (
        f"error: job {job_id} is not held: there is nothing to release (HTTP 409)"
    )
    log = idle_user.run("logs", str(job_id)).stdout
    assert "held by alice: new costs coming" in log and "released by alice" in log


def test_an_admin_may_change_any_job(idle_user: User, study: Path) -> None:
    job_id = submit(idle_user, study, "--years", "1")
    result = idle_user.run("priority", str(job_id), "5", "--json", token=TOKENS["ops"])
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["priority"] == 5


@pytest.mark.parametrize(
    "command",
    [
        ["show", "999999"],
        ["cancel", "999999"],
        ["logs", "999999"],
        ["wait", "999999"],
        ["priority", "999999", "10"],
        ["hold", "999999"],
        ["release", "999999"],
        ["download", "999999", "x"],
        ["download", "999999"],  # asked of the driver before looking for a destination
    ],
)
def test_unknown_job_is_404_in_one_line(idle_user: User, command: list[str]) -> None:
    result = idle_user.run(*command)
    assert result.returncode == 1
    line = one_error_line(result)
    assert "999999" in line and line.endswith("(HTTP 404)")


def test_wrong_token_is_401_and_names_its_source(idle_user: User) -> None:
    result = idle_user.run("jobs", WINJOBS_TOKEN="not-a-token")
    assert result.returncode == 1
    line = one_error_line(result)
    assert "(HTTP 401)" in line and line.endswith("(token from WINJOBS_TOKEN)")
    flag = idle_user.run("workers", "--token", "also-wrong")
    assert one_error_line(flag).endswith("(token from --token)")


def test_unreachable_driver(idle_user: User) -> None:
    url = f"http://127.0.0.1:{free_port()}"
    for command in (["jobs"], ["show", "1"], ["workers"]):
        result = idle_user.run(*command, "--driver", url)
        assert result.returncode == 1
        line = one_error_line(result)
        assert line.startswith(f"error: cannot reach the driver at {url}")
        assert line.endswith("(driver URL from --driver)")
    debug = idle_user.run("jobs", "--driver", url, "--debug")
    assert debug.returncode == 1 and "Traceback" in debug.stderr and "ConnectError" in debug.stderr


def test_a_url_that_is_not_the_drivers_says_so(idle_user: User) -> None:
    docs = f"{idle_user.driver_url}/docs"
    result = idle_user.run("jobs", "--driver", docs)
    assert result.returncode == 1
    line = one_error_line(result)
    assert line.startswith(f"error: {docs} is not a winjobs driver (GET /docs/api/v1/jobs ")
    assert f"the driver's address is its root: {idle_user.driver_url}, not {docs}" in line


def test_invalid_study_is_refused_before_upload(idle_user: User, study: Path) -> None:
    before = json.loads(idle_user.run("jobs", "--json").stdout)["jobs"]
    general = study / "settings" / "generaldata.ini"
    general.write_text(general.read_text().replace("nbyears = 8", "nbyears = many"))
    result = idle_user.run("submit", str(study))
    assert result.returncode == 2
    assert "nbyears" in one_error_line(result)
    not_a_study = idle_user.run("submit", str(study / "input"))
    assert not_a_study.returncode == 2
    assert "no study.antares" in one_error_line(not_a_study)
    assert json.loads(idle_user.run("jobs", "--json").stdout)["jobs"] == before


@pytest.mark.parametrize(
    ("option", "message"),
    [
        (["--years", "0-3"], "years count from 1"),
        (["--years", "9"], "year 9 is beyond the study's 8 MC years"),
        (["--years", "4-2"], "range 4-2 goes backwards"),
        (["--years", "x"], "'x' is not a year number"),
        (["--years", "1,1"], "year 1 is given twice"),
        (["--priority", "101"], "--priority must be between 1 and 100"),
    ],
)
def test_bad_submit_options(idle_user: User, study: Path, option: list[str], message: str) -> None:
    result = idle_user.run("submit", str(study), *option)
    assert result.returncode == 2
    assert message in one_error_line(result)


def test_config_file_and_precedence(idle_user: User, tmp_path: Path) -> None:
    idle_user.config_path.parent.mkdir(parents=True)
    idle_user.config_path.write_text(f"driver: {idle_user.driver_url}\ntoken: {TOKENS['bob']}\n")
    from_file = idle_user.run("jobs", "--json", WINJOBS_DRIVER="", WINJOBS_TOKEN="")
    assert from_file.returncode == 0, from_file.stderr
    env_beats_file = idle_user.run("jobs", WINJOBS_DRIVER="", WINJOBS_TOKEN="stale")
    assert one_error_line(env_beats_file).endswith("(token from WINJOBS_TOKEN)")
    flag_beats_env = idle_user.run(
        "jobs", "--json", "--token", TOKENS["bob"], WINJOBS_TOKEN="stale"
    )
    assert flag_beats_env.returncode == 0, flag_beats_env.stderr
    idle_user.config_path.write_text("driver: [oops\n")
    broken = idle_user.run("jobs", WINJOBS_DRIVER="", WINJOBS_TOKEN="")
    assert broken.returncode == 2
    assert "is not valid YAML" in one_error_line(broken)


def test_nothing_configured(tmp_path: Path) -> None:
    user = User(tmp_path / "empty-home", driver_url="")
    result = user.run("jobs", WINJOBS_DRIVER="", WINJOBS_TOKEN="")
    assert result.returncode == 2
    assert one_error_line(result).startswith("error: no driver given: pass --driver URL")
