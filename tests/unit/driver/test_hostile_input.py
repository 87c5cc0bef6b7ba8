"""Input an attacker or a broken client sends: refused with a 4xx that names what was
wrong, in the words of what the user sent (never a 500, never a path of the driver)."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest
from httpx import Response

from tests.unit.driver.helpers import Api, claim, make_study, packed_study
from winjobs.antares.archive import pack_study
from winjobs.wire import WORKER_ID_HEADER, JobSubmitFields

P = "/api/v1"
HUGE = 2**64  # above int64: SQLite cannot bind it


def _detail(response: Response) -> str:
    detail = response.json()["detail"]
    return detail if isinstance(detail, str) else json.dumps(detail)


def _submit(
    api: Api, archive: bytes, filename: str | bytes = "study.zip", **fields: str
) -> Response:
    return api.raw("alice-secret").post(
        f"{P}/jobs", data=fields, files={"archive": (filename, archive, "application/zip")}
    )


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def _with_non_utf8_name(archive: bytes) -> bytes:
    """The zip with its (UTF-8 flagged) entry name `é...` turned into invalid UTF-8."""
    assert "é".encode() in archive
    return archive.replace("é".encode(), b"\xff\xfe")


def _study_zip(tmp_path: Path) -> bytes:
    study = make_study(tmp_path / "study", nbyears=2)
    return pack_study(study, tmp_path / "study.zip").path.read_bytes()


def _study_with(tmp_path: Path, extra_name: str) -> bytes:
    """The packed test study with one more entry under the given name."""
    buffer = io.BytesIO(_study_zip(tmp_path))
    with zipfile.ZipFile(buffer, "a") as archive:
        archive.writestr(f"input/{extra_name}", b"x")
    return buffer.getvalue()


# ------------------------------------------------------------------ numbers


@pytest.mark.parametrize("limit", ["inf", "1e309", "-inf", "nan", "1e12"])
def test_a_time_limit_must_be_finite_and_in_range(api: Api, tmp_path: Path, limit: str) -> None:
    response = _submit(api, _study_zip(tmp_path), task_time_limit_s=limit)
    assert response.status_code == 422, response.text
    assert "task_time_limit_s" in _detail(response)
    assert api.client("alice-secret").list_jobs().jobs == []


@pytest.mark.parametrize("wait", ["NaN", "Infinity", "-Infinity"])
def test_a_claim_wait_must_be_finite(api: Api, wait: str) -> None:
    worker = api.worker()
    response = api.raw("worker-secret").post(
        f"{P}/workers/claim",
        headers={WORKER_ID_HEADER: str(worker.worker_id), "content-type": "application/json"},
        content=f'{{"free_cores": 2, "wait_s": {wait}}}',
    )
    assert response.status_code == 422 and "wait_s" in _detail(response), response.text


@pytest.mark.parametrize(
    "path",
    [
        f"/jobs/{HUGE}",
        f"/jobs/{HUGE}/result",
        f"/jobs/{HUGE}/log",
        f"/jobs/1/tasks/{HUGE}/log",
        f"/jobs/{HUGE}/tasks/1/log",
    ],
)
def test_ids_above_int64_are_refused_not_crashed_on(api: Api, tmp_path: Path, path: str) -> None:
    api.client("alice-secret").submit_job(packed_study(tmp_path), JobSubmitFields())
    response = api.raw("alice-secret").get(P + path)
    assert response.status_code in (404, 422) and _detail(response), response.text
    for action in ("cancel", "retry"):
        response = api.raw("alice-secret").post(f"{P}/jobs/{HUGE}/{action}")
        assert response.status_code in (404, 422), response.text


def test_worker_protocol_numbers_above_the_columns_are_refused(api: Api, tmp_path: Path) -> None:
    api.client("alice-secret").submit_job(packed_study(tmp_path), JobSubmitFields())
    worker = api.worker()
    task = claim(worker)
    raw = api.raw("worker-secret")
    as_worker = {WORKER_ID_HEADER: str(worker.worker_id)}
    beats = [{"attempt": HUGE}, {"attempt": task.attempt, "years_done": HUGE}]
    for beat in beats:
        response = raw.post(f"{P}/tasks/{task.task_id}/heartbeat", json=beat, headers=as_worker)
        assert response.status_code == 422, response.text
    response = raw.post(f"{P}/tasks/{HUGE}/heartbeat", json={"attempt": 1}, headers=as_worker)
    assert response.status_code in (404, 422), response.text
    failure = {"attempt": HUGE, "reason": "x"}
    response = raw.post(f"{P}/tasks/{task.task_id}/fail", json=failure, headers=as_worker)
    assert response.status_code == 422, response.text
    for attempt in (str(HUGE), "²", "１"):  # digits str.isdigit() accepts but int() may not
        response = raw.post(
            f"{P}/tasks/{task.task_id}/complete",
            headers=as_worker,
            data={"attempt": attempt},
            files={"output": ("r.zip", b"PK")},
        )
        assert response.status_code == 422 and "attempt" in _detail(response), response.text
    registration = {"name": "big", "cores": HUGE, "os": "x", "versions": ["8.8"]}
    response = raw.post(f"{P}/workers/register", json=registration)
    assert response.status_code == 422, response.text
    registration = {"name": "big", "cores": 2, "os": "x", "versions": ["8.8"]}
    response = raw.post(f"{P}/workers/register", json={**registration, "free_disk_bytes": HUGE})
    assert response.status_code == 422, response.text
    claim_body = {"free_cores": 2, "wait_s": 0, "free_disk_bytes": HUGE}
    response = raw.post(f"{P}/workers/claim", json=claim_body, headers=as_worker)
    assert response.status_code == 422, response.text
    for worker_id in (str(HUGE).encode(), "²".encode()):
        response = raw.post(
            f"{P}/workers/claim", json={"free_cores": 2}, headers={WORKER_ID_HEADER: worker_id}
        )
        assert response.status_code in (403, 404), response.text


@pytest.mark.parametrize("years", ["²", "0,²", str(HUGE)])
def test_years_that_are_not_plain_numbers_are_refused(api: Api, tmp_path: Path, years: str) -> None:
    response = _submit(api, _study_zip(tmp_path), years=years)
    assert response.status_code == 422 and "years" in _detail(response), response.text


# ------------------------------------------------------------------ names


def test_a_non_utf8_entry_name_in_a_study_is_refused(api: Api, tmp_path: Path) -> None:
    archive = _with_non_utf8_name(_study_with(tmp_path, "é.txt"))
    response = _submit(api, archive)
    assert response.status_code == 422, response.text
    assert "not valid UTF-8" in _detail(response)
    assert list(api.driver.files.tmp.iterdir()) == []


def test_a_non_utf8_entry_name_in_a_task_output_is_refused(api: Api, tmp_path: Path) -> None:
    api.client("alice-secret").submit_job(packed_study(tmp_path), JobSubmitFields())
    worker = api.worker()
    task = claim(worker)
    response = api.raw("worker-secret").post(
        f"{P}/tasks/{task.task_id}/complete",
        headers={WORKER_ID_HEADER: str(worker.worker_id)},
        data={"attempt": str(task.attempt)},
        files={"output": ("run.zip", _with_non_utf8_name(_zip({"run/é.txt": b"x"})))},
    )
    assert response.status_code == 422, response.text
    assert "not valid UTF-8" in _detail(response)
    assert api.client("alice-secret").get_job(task.job_id).tasks[0].status == "running"


def test_a_non_utf8_multipart_file_name_is_no_server_error(api: Api, tmp_path: Path) -> None:
    """The file name is not used: the upload is judged on its content."""
    archive = _study_zip(tmp_path)
    boundary = "b0undary"
    body = (
        (f'--{boundary}\r\nContent-Disposition: form-data; name="archive"; filename="').encode()
        + b"\xff\xfe.zip"
        + b'"\r\nContent-Type: application/zip\r\n\r\n'
        + archive
        + f"\r\n--{boundary}--\r\n".encode()
    )
    response = api.raw("alice-secret").post(
        f"{P}/jobs",
        content=body,
        headers={"content-type": f"multipart/form-data; boundary={boundary}"},
    )
    assert response.status_code == 201, response.text


# ------------------------------------------------------------------ messages


def _speaks_of_what_was_sent(api: Api, detail: str) -> None:
    data = str(api.driver.files.root)
    assert data not in detail and "upload-" not in detail and "output-" not in detail, detail
    assert ".unpacking" not in detail, detail


def test_an_over_long_entry_name_is_refused_without_the_driver_s_paths(
    api: Api, tmp_path: Path
) -> None:
    long_name = "a" * 300 + ".txt"
    response = _submit(api, _study_with(tmp_path, long_name))
    assert response.status_code == 422, response.text
    detail = _detail(response)
    assert long_name in detail, detail
    _speaks_of_what_was_sent(api, detail)


@pytest.mark.parametrize("archive", [b"not a zip", b"PK\x05\x06" + b"\x00" * 18])
def test_a_damaged_study_archive_is_named_as_the_upload(api: Api, archive: bytes) -> None:
    response = _submit(api, archive)
    assert response.status_code == 422, response.text
    _speaks_of_what_was_sent(api, _detail(response))


def test_a_damaged_task_output_is_named_as_the_upload(api: Api, tmp_path: Path) -> None:
    api.client("alice-secret").submit_job(packed_study(tmp_path), JobSubmitFields())
    worker = api.worker()
    task = claim(worker)
    for output in (b"not a zip", _zip({"run/" + "b" * 300: b"x"})):
        response = api.raw("worker-secret").post(
            f"{P}/tasks/{task.task_id}/complete",
            headers={WORKER_ID_HEADER: str(worker.worker_id)},
            data={"attempt": str(task.attempt)},
            files={"output": ("run.zip", output)},
        )
        assert response.status_code == 422, response.text
        _speaks_of_what_was_sent(api, _detail(response))
