"""Jobs that really run: a real driver, two workers, the stand-in solver; the user follows
them, fetches the merged output into the study's own output/, reads logs, retries."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.cli.conftest import FAILING_YEAR, User, one_error_line
from winjobs.antares.example import example_study_path


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return Path(shutil.copytree(example_study_path(), tmp_path / "winter"))


def mc_ind_years(run: Path) -> list[str]:
    return sorted(p.name for p in (run / "economy" / "mc-ind").iterdir())


def test_submit_download_lands_in_the_study_output(busy_user: User, study: Path) -> None:
    (study / "output").mkdir()
    result = busy_user.run("submit", str(study), "--years", "1-6", "--download")
    assert result.returncode == 0, result.stderr
    runs = [p for p in (study / "output").iterdir() if not p.name.startswith(".")]
    assert len(runs) == 1, runs
    run = runs[0]
    assert result.stdout.splitlines()[-1].endswith(f"succeeded: {run}")
    assert (run / "info.antares-output").is_file()
    assert mc_ind_years(run) == ["00001", "00002", "00003", "00004", "00005", "00006"]
    assert (run / "economy" / "mc-all" / "areas" / "north").is_dir()


def test_wait_show_logs_workers_then_download_by_default(busy_user: User, study: Path) -> None:
    submitted = busy_user.run("submit", str(study), "--years", "2-4", "--json")
    assert submitted.returncode == 0, submitted.stderr
    job_id = json.loads(submitted.stdout)["job_id"]
    waited = busy_user.run("wait", str(job_id))
    assert waited.returncode == 0, waited.stderr
    assert waited.stdout == f"job {job_id} succeeded (3 years)\n"
    assert f"job {job_id} succeeded: 3/3 years" in waited.stderr

    job = json.loads(busy_user.run("show", str(job_id), "--json").stdout)
    assert (job["status"], job["years_done"], job["years_total"]) == ("succeeded", 3, 3)
    years = sorted(y for task in job["tasks"] for y in task["years"])
    assert years == [1, 2, 3]  # 0-based in JSON
    for task in job["tasks"]:
        assert task["status"] == "succeeded"
        assert task["worker"] in ("e2e-worker-1", "e2e-worker-2")
        assert task["attempts"] >= 1
    human = busy_user.run("show", str(job_id)).stdout
    assert "2-4 (3 years)" in human and "e2e-worker-" in human

    task_log = busy_user.run("logs", str(job_id), "--task", str(job["tasks"][0]["id"]))
    assert task_log.returncode == 0, task_log.stderr
    assert "MC-Years" in task_log.stdout or "stand-in" in task_log.stdout.lower()

    workers = busy_user.run("workers")
    assert "e2e-worker-1" in workers.stdout and "e2e-worker-2" in workers.stdout
    listed = json.loads(busy_user.run("workers", "--json").stdout)["workers"]
    assert {w["name"] for w in listed} >= {"e2e-worker-1", "e2e-worker-2"}
    assert all(w["cores"] == 2 and w["versions"] == ["8.8"] for w in listed)

    downloaded = busy_user.run("download", str(job_id))
    assert downloaded.returncode == 0, downloaded.stderr
    run = Path(downloaded.stdout.strip())
    assert run.parent == study / "output"
    assert mc_ind_years(run) == ["00002", "00003", "00004"]
    again = busy_user.run("download", str(job_id))
    assert again.returncode == 2
    assert one_error_line(again).endswith("already exists: remove it or choose another destination")
    elsewhere = busy_user.run("download", str(job_id), str(study.parent / "results"), "--json")
    assert json.loads(elsewhere.stdout)["output"] == str(study.parent / "results" / run.name)


def test_printed_paths_are_absolute_and_never_wrapped(
    busy_user: User, study: Path, tmp_path: Path
) -> None:
    """stdout is a pipe here, as in `winjobs download 2 DIR | cat`: no COLUMNS, so Rich
    would fall back to 80 columns and split a long path."""
    here = tmp_path / "here"
    here.mkdir()
    submitted = busy_user.run(
        "submit", str(study), "results", "--years", "1", "--download", "--json", cwd=here
    )
    assert submitted.returncode == 0, submitted.stderr
    report = json.loads(submitted.stdout)
    run = Path(report["output"])
    assert run.is_absolute() and run.parent == here / "results"
    far = tmp_path / ("a-folder-with-a-rather-long-name-" * 3) / "results"
    downloaded = busy_user.run("download", str(report["job_id"]), str(far), COLUMNS="")
    assert downloaded.returncode == 0, downloaded.stderr
    assert len(str(far / run.name)) > 80
    assert downloaded.stdout == f"{far / run.name}\n"


def test_failed_job_exits_3_and_retry_runs_it_again(busy_user: User, study: Path) -> None:
    result = busy_user.run("submit", str(study), "--years", str(FAILING_YEAR), "--wait", "--json")
    assert result.returncode == 3, result.stderr
    report = json.loads(result.stdout)
    assert report["status"] == "failed"
    job_id = report["job_id"]
    assert one_error_line(result).startswith(f"error: job {job_id} failed")
    job = json.loads(busy_user.run("show", str(job_id), "--json").stdout)
    assert job["status"] == "failed" and job["error"]
    assert job["tasks"][0]["attempts"] == 2  # the test driver's max_attempts
    retried = busy_user.run("retry", str(job_id))
    assert retried.returncode == 0, retried.stderr
    assert busy_user.run("wait", str(job_id)).returncode == 3
    no_result = busy_user.run("download", str(job_id), str(study / "output"))
    assert no_result.returncode == 1
    assert "has no result to download" in one_error_line(no_result)
