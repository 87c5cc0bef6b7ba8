"""The jobs API through FastAPI's test client: submit (and every way it refuses), list,
detail, cancel, priority, retry, logs."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.unit.driver.helpers import Api, claim, make_study, packed_study
from winjobs.antares.archive import pack_study
from winjobs.client import ClientError
from winjobs.driver.store import NewJob
from winjobs.wire import (
    JOBS_LIMIT_DEFAULT,
    JOBS_LIMIT_MAX,
    JobStatus,
    JobSubmitFields,
    TaskFailure,
)

P = "/api/v1"


def leftovers(api: Api) -> list[Path]:
    """Every file the driver keeps for jobs (tmp/ must be empty between requests)."""
    files = api.driver.files
    return sorted(
        [*files.tmp.iterdir(), *files.studies.iterdir(), *files.jobs.iterdir()],
    )


def submit_raw(api: Api, archive: bytes, **fields: str) -> tuple[int, str]:
    response = api.raw("alice-secret").post(
        f"{P}/jobs", data=fields, files={"archive": ("study.zip", archive, "application/zip")}
    )
    return response.status_code, response.json()["detail"] if response.status_code >= 400 else ""


def test_submit_stores_a_validated_job(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    archive = packed_study(tmp_path, nbyears=5)
    created = alice.submit_job(
        archive, JobSubmitFields(priority=70, name="my run", years="1,3", task_time_limit_s=60)
    )
    job = alice.get_job(created.job_id)
    assert (job.name, job.submitter, job.priority, job.status) == (
        "my run",
        "alice",
        70,
        JobStatus.QUEUED,
    )
    assert (job.study_name, job.antares_version, job.mode) == ("tiny", "8.8", "economy")
    assert (job.years, job.years_total, job.years_done, job.task_time_limit_s) == (
        [1, 3],
        2,
        0,
        60,
    )
    files = api.driver.files
    sha = api.driver.store.get_job(created.job_id).study_sha256
    assert files.study_archive(sha).read_bytes() == archive.read_bytes()
    assert (files.job_study(created.job_id) / "study.antares").is_file()
    assert list(files.tmp.iterdir()) == []
    assert "submitted by alice" in alice.job_log(created.job_id)


def test_identical_archives_are_stored_once(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    archive = packed_study(tmp_path)
    first = alice.submit_job(archive, JobSubmitFields()).job_id
    second = alice.submit_job(archive, JobSubmitFields()).job_id
    assert first != second
    assert len(list(api.driver.files.studies.iterdir())) == 1


def test_defaults_and_study_facts(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    archive = packed_study(tmp_path, nbyears=9, playlist=[2, 4, 6], caption="Playlist")
    created = alice.submit_job(archive, JobSubmitFields())
    job = alice.get_job(created.job_id)
    assert (job.name, job.priority, job.years) == ("Playlist", 50, [2, 4, 6])


def test_warnings_come_back(api: Api, tmp_path: Path) -> None:
    study = make_study(tmp_path / "hot", nbyears=3)
    general = study / "settings" / "generaldata.ini"
    general.write_text(
        general.read_text() + "[other preferences]\ninitial-reservoir-levels = hot start\n"
    )
    archive = pack_study(study, tmp_path / "hot.zip").path
    created = api.client("alice-secret").submit_job(archive, JobSubmitFields())
    assert any("hot start" in w for w in created.warnings)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"priority": "0"}, "priority"),
        ({"priority": "101"}, "priority"),
        ({"priority": "high"}, "priority"),
        ({"years": "1,x"}, "not a 0-based year"),
        ({"years": "0,6,7"}, "6, 7 (0-based) are not active years"),
        ({"task_time_limit_s": "-5"}, "task_time_limit_s"),
        ({"colour": "red"}, "colour"),
        ({"name": "n" * 201}, "name"),
    ],
)
def test_bad_fields_are_refused_and_leave_nothing(
    api: Api, tmp_path: Path, fields: dict[str, str], message: str
) -> None:
    archive = packed_study(tmp_path, nbyears=6).read_bytes()
    status, detail = submit_raw(api, archive, **fields)
    assert status == 422 and message in detail
    assert leftovers(api) == []


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"not a zip at all", "refused"),
        (_zip({"../evil.txt": b"x"}), "refused"),
        (_zip({"readme.txt": b"x"}), "no study.antares"),
        (
            _zip({"study.antares": b"[antares]\nversion = 700\n", "settings/generaldata.ini": b""}),
            "invalid study",
        ),
        (_zip({"a/study.antares": b"[antares]\nversion = 880\n"}), "generaldata.ini"),
        (_zip({"zeros.bin": b"\0" * 5_000_000}), "refused"),  # compression ratio bomb
    ],
)
def test_bad_archives_and_studies_are_refused(api: Api, archive: bytes, message: str) -> None:
    status, detail = submit_raw(api, archive)
    assert status == 422, detail
    assert message in detail
    assert "/tmp" not in detail and "driver" not in detail  # no server paths
    assert leftovers(api) == []
    assert api.client("alice-secret").list_jobs().jobs == []


def test_a_study_in_a_top_folder_is_accepted(api: Api, tmp_path: Path) -> None:
    study = make_study(tmp_path / "mystudy", nbyears=2)
    entries = {
        f"mystudy/{p.relative_to(study).as_posix()}": p.read_bytes()
        for p in study.rglob("*")
        if p.is_file()
    }
    status, detail = submit_raw(api, _zip(entries))
    assert status == 201, detail


def test_upload_size_limit(tmp_path: Path, clock: object) -> None:
    from fastapi.testclient import TestClient

    from tests.unit.driver.helpers import driver_settings
    from winjobs.driver.app import create_app

    app = create_app(driver_settings(tmp_path / "d", max_upload_bytes=300))
    with TestClient(app) as http:
        http.headers["Authorization"] = "Bearer alice-secret"
        archive = packed_study(tmp_path, nbyears=3).read_bytes()
        assert len(archive) > 300
        response = http.post(f"{P}/jobs", files={"archive": ("s.zip", archive)})
        assert response.status_code == 413 and "limit of 300 bytes" in response.json()["detail"]
        assert list(app.state.driver.files.tmp.iterdir()) == []


def test_too_many_years(tmp_path: Path) -> None:
    from fastapi.testclient import TestClient

    from tests.unit.driver.helpers import driver_settings
    from winjobs.driver.app import create_app

    app = create_app(driver_settings(tmp_path / "d", max_years_per_job=4))
    with TestClient(app) as http:
        http.headers["Authorization"] = "Bearer alice-secret"
        archive = packed_study(tmp_path, nbyears=6).read_bytes()
        response = http.post(f"{P}/jobs", files={"archive": ("s.zip", archive)})
        assert response.status_code == 422 and "at most 4" in response.json()["detail"]
        ok = http.post(f"{P}/jobs", data={"years": "0,1"}, files={"archive": ("s.zip", archive)})
        assert ok.status_code == 201


def test_missing_or_malformed_body(api: Api) -> None:
    raw = api.raw("alice-secret")
    response = raw.post(f"{P}/jobs", data={"priority": "5"})
    assert response.status_code == 422  # urlencoded form: not multipart
    response = raw.post(f"{P}/jobs", files={"priority": (None, "5")})
    assert response.status_code == 422 and "no file field 'archive'" in response.json()["detail"]
    response = raw.post(f"{P}/jobs", files={"other": ("x.zip", b"PK")})
    assert response.status_code == 422 and "other" in response.json()["detail"]
    assert leftovers(api) == []


def test_list_filters_newest_first(api: Api, tmp_path: Path) -> None:
    alice, bob = api.client("alice-secret"), api.client("bob-secret")
    archive = packed_study(tmp_path)
    a1 = alice.submit_job(archive, JobSubmitFields()).job_id
    b1 = bob.submit_job(archive, JobSubmitFields()).job_id
    a2 = alice.submit_job(archive, JobSubmitFields()).job_id
    alice.cancel_job(a2)
    assert [j.id for j in alice.list_jobs().jobs] == [a2, b1, a1]
    assert [j.id for j in bob.list_jobs(submitter="alice").jobs] == [a2, a1]
    assert [j.id for j in bob.list_jobs(status=JobStatus.CANCELLED).jobs] == [a2]
    assert bob.list_jobs(status=JobStatus.QUEUED, submitter="bob").jobs[0].id == b1
    response = api.raw("bob-secret").get(f"{P}/jobs", params={"status": "sleeping"})
    assert response.status_code == 422


def test_list_pages_with_limit_and_offset(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    archive = packed_study(tmp_path)
    ids = [alice.submit_job(archive, JobSubmitFields()).job_id for _ in range(5)][::-1]
    first = alice.list_jobs(limit=2)
    assert ([j.id for j in first.jobs], first.total) == (ids[:2], 5)
    last = alice.list_jobs(limit=2, offset=4)
    assert ([j.id for j in last.jobs], last.total) == (ids[4:], 5)
    everything = alice.list_jobs()  # the default page holds them all here
    assert ([j.id for j in everything.jobs], everything.total) == (ids, 5)
    raw = api.raw("alice-secret")
    for bad in ({"limit": 0}, {"limit": JOBS_LIMIT_MAX + 1}, {"offset": -1}, {"limit": "x"}):
        response = raw.get(f"{P}/jobs", params=bad)
        assert response.status_code == 422, bad
    assert raw.get(f"{P}/jobs", params={"limit": JOBS_LIMIT_MAX}).status_code == 200


def test_the_default_page_is_bounded(api: Api, tmp_path: Path) -> None:
    """Without `limit`, one page of JOBS_LIMIT_DEFAULT jobs, not the whole table."""
    store = api.driver.store
    for _ in range(JOBS_LIMIT_DEFAULT + 2):
        store.create_job(_stored_job())
    listing = api.client("alice-secret").list_jobs()
    assert (len(listing.jobs), listing.total) == (JOBS_LIMIT_DEFAULT, JOBS_LIMIT_DEFAULT + 2)
    assert listing.jobs[0].id == JOBS_LIMIT_DEFAULT + 2  # newest first


def _stored_job() -> NewJob:
    """A job row as the store keeps it (no upload: only the listing is looked at)."""
    return NewJob(
        name="bulk",
        submitter="alice",
        priority=50,
        study_name="study",
        study_sha256="b" * 64,
        study_size=1,
        antares_version="8.8",
        mode="economy",
        years=[0],
        splittable=True,
        task_time_limit_s=None,
        warnings=[],
    )


def test_unknown_job_and_task(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    for call in (
        lambda: alice.get_job(5),
        lambda: alice.cancel_job(5),
        lambda: alice.set_priority(5, 10),
        lambda: alice.retry_job(5),
        lambda: alice.job_log(5),
        lambda: alice.task_log(5, 1),
        lambda: alice.download_result(5, tmp_path / "r.zip"),
    ):
        with pytest.raises(ClientError) as missing:
            call()
        assert missing.value.status_code == 404
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    with pytest.raises(ClientError, match=f"job {job_id} has no task 9"):
        alice.task_log(job_id, 9)


def test_priority_validation(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    for bad in (0, 101):
        response = api.raw("alice-secret").post(
            f"{P}/jobs/{job_id}/priority", json={"priority": bad}
        )
        assert response.status_code == 422
    assert alice.set_priority(job_id, 100).priority == 100


def test_state_conflicts(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path), JobSubmitFields()).job_id
    with pytest.raises(ClientError, match="only a failed or cancelled job") as conflict:
        alice.retry_job(job_id)
    assert conflict.value.status_code == 409
    with pytest.raises(ClientError, match="no result") as conflict:
        alice.download_result(job_id, tmp_path / "r.zip")
    assert conflict.value.status_code == 409
    alice.cancel_job(job_id)
    for call in (lambda: alice.cancel_job(job_id), lambda: alice.set_priority(job_id, 3)):
        with pytest.raises(ClientError, match="it was cancelled") as conflict:
            call()
        assert conflict.value.status_code == 409


def test_cancel_running_job_then_retry(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path, nbyears=8), JobSubmitFields()).job_id
    worker = api.worker(cores=4)
    task = claim(worker)
    detail = alice.cancel_job(job_id)
    assert detail.status == JobStatus.CANCELLED
    assert [t.status for t in detail.tasks] == ["cancelled"]
    from winjobs.wire import Heartbeat

    assert worker.heartbeat(task.task_id, Heartbeat(attempt=task.attempt)).cancel is True
    retried = alice.retry_job(job_id)
    assert retried.status == JobStatus.QUEUED and retried.error is None
    again = claim(worker)
    assert (again.task_id, again.years, again.attempt) == (task.task_id, task.years, 2)


def test_failed_job_detail_and_task_log(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    job_id = alice.submit_job(packed_study(tmp_path, nbyears=2), JobSubmitFields()).job_id
    worker = api.worker(cores=2)
    for attempt in (1, 2, 3):
        task = claim(worker, cores=2)
        assert task.attempt == attempt
        worker.fail_task(
            task.task_id,
            TaskFailure(attempt=attempt, reason=f"solver exit 1 (#{attempt})", log_tail="[fatal]"),
        )
    job = alice.get_job(job_id)
    assert job.status == JobStatus.FAILED
    assert job.error == "years 1-2 failed 3 times; last: solver exit 1 (#3)"
    [info] = job.tasks
    assert (info.status, info.attempts, info.worker, info.error) == (
        "failed",
        3,
        "w1",
        "solver exit 1 (#3)",
    )
    log = alice.task_log(job_id, info.id)
    assert log.count("[fatal]") == 3 and "===== attempt 3 =====" in log
    assert "failed for the last time" in alice.job_log(job_id)
    assert alice.retry_job(job_id).status == JobStatus.QUEUED
    assert claim(worker, cores=2).attempt == 4


def test_a_study_that_cannot_be_split_is_one_task(api: Api, tmp_path: Path) -> None:
    alice = api.client("alice-secret")
    created = alice.submit_job(packed_study(tmp_path, nbyears=6, derated=True), JobSubmitFields())
    assert any("derated" in w for w in created.warnings)
    task = claim(api.worker(cores=2), cores=2)
    assert task.years == alice.get_job(created.job_id).years
