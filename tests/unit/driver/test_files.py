"""The data folder: start-up clean-up keeps exactly what committed rows refer to."""

from __future__ import annotations

from pathlib import Path

from winjobs.driver.files import DataDir, replace_dir


def test_cleanup_removes_what_no_row_refers_to(tmp_path: Path) -> None:
    files = DataDir(tmp_path / "data")
    files.prepare()
    (files.tmp / "upload-1").write_bytes(b"half an upload")
    for sha in ("a" * 64, "b" * 64):
        files.study_archive(sha).write_bytes(b"zip")
    for job in (1, 2):
        files.job_study(job).mkdir(parents=True)
    kept = files.task_output(1, 10, 2)
    for folder in (kept, files.task_output(1, 10, 1), files.task_output(1, 11, 1)):
        (folder / "run").mkdir(parents=True)
    (files.job_dir(1) / "tasks" / "junk").mkdir()

    files.prepare()  # start-up: tmp/ emptied
    removed = files.cleanup(job_ids={1}, archives={"a" * 64}, outputs={(1, 10, 2)})

    assert list(files.tmp.iterdir()) == []
    assert [p.name for p in files.studies.iterdir()] == [f"{'a' * 64}.zip"]
    assert [p.name for p in files.jobs.iterdir()] == ["1"]
    assert [p.name for p in (files.job_dir(1) / "tasks").iterdir()] == [kept.name]
    assert files.job_study(1).is_dir()
    assert len(removed) == 5


def test_replace_dir_replaces(tmp_path: Path) -> None:
    (tmp_path / "new").mkdir()
    (tmp_path / "new" / "f").write_text("new")
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "g").write_text("old")
    replace_dir(tmp_path / "new", tmp_path / "old")
    assert [p.name for p in (tmp_path / "old").iterdir()] == ["f"]
    assert not (tmp_path / "new").exists()


def test_log_lines_are_stamped(tmp_path: Path) -> None:
    files = DataDir(tmp_path)
    files.append_log(files.job_log(3), "one\ntwo")
    lines = files.job_log(3).read_text().splitlines()
    assert len(lines) == 2 and lines[0].startswith("[") and lines[1].endswith("] two")


def test_task_logs_share_one_file_per_job_and_read_back_per_task(tmp_path: Path) -> None:
    """Each report's log tail is a record of the job's tasks.log; a task's log is its
    records, in order (a tail that looks like a record header is taken as text), after
    what a driver before them wrote in the task's own file."""
    files = DataDir(tmp_path)
    files.prepare()
    old = files.task_log(1, 7)
    old.parent.mkdir(parents=True)
    old.write_text("===== attempt 1 =====\nfrom an older driver\n")
    files.append_task_log(1, 7, 2, "first line\nsecond line\n\n")
    files.append_task_log(1, 8, 1, "===== task 7 attempt 9: 1 lines =====\nnot a record")
    files.append_task_log(1, 7, 3, "again")
    assert files.read_task_log(1, 7) == (
        "===== attempt 1 =====\nfrom an older driver\n"
        "===== attempt 2 =====\nfirst line\nsecond line\n"
        "===== attempt 3 =====\nagain\n"
    )
    assert files.read_task_log(1, 8) == (
        "===== attempt 1 =====\n===== task 7 attempt 9: 1 lines =====\nnot a record\n"
    )
    assert files.read_task_log(1, 9) == ""
    assert files.read_task_log(2, 7) == ""


def test_cleanup_keeps_the_zipped_outputs_of_committed_completions(tmp_path: Path) -> None:
    files = DataDir(tmp_path / "data")
    files.prepare()
    kept, orphan = files.task_output_zip(1, 10, 2), files.task_output_zip(1, 10, 1)
    kept.parent.mkdir(parents=True)
    for path in (kept, orphan):  # orphan: written, then the driver died before the commit
        path.write_bytes(b"PK")
    files.cleanup(job_ids={1}, archives=set(), outputs={(1, 10, 2)})
    assert [p.name for p in kept.parent.iterdir()] == [kept.name]
