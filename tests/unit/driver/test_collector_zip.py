"""A study that asks for `result-format = zip`: its tasks upload runs as the solver zips
them (entries relative to the run), and the job's download is the merged run zipped the
same way, what a single run of that study leaves in `output/` (issue 12)."""

from __future__ import annotations

import zipfile
from pathlib import Path

from tests.unit.driver.helpers import Api, claim, make_study, standin_run
from tests.unit.driver.test_collector import submit, wait_assembled
from winjobs.antares.ini import IniDocument
from winjobs.antares.output import read_run_info
from winjobs.wire import JobStatus


def _zip_study(root: Path) -> Path:
    study = make_study(root, nbyears=4)
    settings = study / "settings" / "generaldata.ini"
    ini = IniDocument.read(settings)
    ini.set("output", "result-format", "zip")
    ini.write(settings)
    return study


def test_a_zip_study_is_served_as_the_zipped_run(api: Api, tmp_path: Path) -> None:
    study = _zip_study(tmp_path / "study")
    job_id = submit(api, study, tmp_path, name="zipped")
    worker = api.worker(cores=2)
    for task in [claim(worker, cores=2), claim(worker, cores=2)]:
        name = f"task{task.task_id}"
        zipped = standin_run(study, task.years, tmp_path / "runs", name)
        assert zipped.name.endswith(f"eco-{name}.zip")  # the solver's own <run>.zip
        worker.complete_task_upload(task.task_id, task.attempt, zipped, log_tail="")
    wait_assembled(api)
    alice = api.client("alice-secret")
    job = alice.get_job(job_id)
    assert job.status == JobStatus.SUCCEEDED, job.error
    result = alice.download_result(job_id, tmp_path / "result.zip")
    with zipfile.ZipFile(result) as opened:
        names = opened.namelist()
    assert "info.antares-output" in names and "execution_info.ini" in names
    assert not any(name.startswith(f"{job.run_folder}/") for name in names)
    info = read_run_info(result)  # the zip itself is the run
    assert info.zipped and info.years == (0, 1, 2, 3)
    years = {n.split("/")[2] for n in names if n.startswith("economy/mc-ind/0")}
    assert years == {"00001", "00002", "00003", "00004"}
