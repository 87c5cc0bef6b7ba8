"""`submit` and `download` in-process against the fake driver, with real study folders."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import pytest

from tests.unit.cli.conftest import Cli
from tests.unit.cli.fake_driver import BASE_URL, FakeDriver, make_job, run_folder_zip
from tests.unit.cli.studies import make_study
from winjobs.cli import transfer
from winjobs.cli.localjobs import LocalJobs
from winjobs.wire import JobStatus

RUN = "20260105-0900eco-winjobs-1"
RESULT_FILES = {"info.antares-output": b"[general]\nversion = 880\n", "mc-all/x.txt": b"42\n"}
SUCCESS = [
    {"status": JobStatus.RUNNING, "years_done": 2, "tasks_running": 2},
    {
        "status": JobStatus.SUCCEEDED,
        "years_done": 5,
        "tasks_running": 0,
        "run_folder": RUN,
        "result_available": True,
    },
]


def names_in(archive: bytes) -> set[str]:
    return set(zipfile.ZipFile(io.BytesIO(archive)).namelist())


NO_SOLVER = (
    "no online worker can run this job now: no online worker has a solver for Antares 8.8 "
    "(no worker is online)"
)


def test_submit_warns_of_the_pool_before_packing_and_once(
    cli: Cli, fake: FakeDriver, tmp_path: Path, user_dir: Path
) -> None:
    """The warning an upload would get comes before minutes of packing and uploading;
    the driver's answer to the upload repeats it, and it is not printed twice."""
    fake.pool_warnings = [NO_SOLVER]
    result = cli("submit", str(make_study(tmp_path)))
    assert result.code == 0, result.err
    told = " ".join(result.err.split())
    assert told.count("warning from the driver") == 1
    assert f"warning from the driver: {NO_SOLVER}" in told
    asked = [r.url.path for r in fake.requests]
    assert asked.index("/api/v1/submissions/check") < asked.index("/api/v1/jobs")
    [check] = [r for r in fake.requests if r.url.path.endswith("/submissions/check")]
    assert check.url.params["antares_version"] == "8.8"


def test_submit_to_a_driver_without_the_check_goes_on(
    cli: Cli, fake: FakeDriver, tmp_path: Path, user_dir: Path
) -> None:
    assert fake.pool_warnings is None  # the fake answers 404 there, as an older driver
    result = cli("submit", str(make_study(tmp_path)))
    assert result.code == 0, result.err
    assert "warning from the driver" not in result.err and len(fake.submissions) == 1


def test_submit_packs_without_output_and_sends_the_fields(
    cli: Cli, fake: FakeDriver, tmp_path: Path, user_dir: Path
) -> None:
    study = make_study(tmp_path, active=[0, 1, 2, 4])
    result = cli(
        "submit",
        str(study),
        "--priority",
        "80",
        "--years",
        "1-2,5",
        "--time-limit",
        "90",
        "--name",
        "winter",
    )
    assert result.code == 0, result.err
    assert result.out == "submitted job 1\n"
    assert "follow it with: winjobs wait 1" in result.err
    [sent] = fake.submissions
    assert sent.fields == {
        "priority": "80",
        "name": "winter",
        "years": "0,1,4",
        "task_time_limit_s": "90.0",
    }
    assert sent.submitter == "alice"
    names = names_in(sent.archive)
    assert "study.antares" in names and "settings/generaldata.ini" in names
    assert not any(n.startswith("output") for n in names)
    record = LocalJobs.beside(user_dir / "config.yaml")
    assert record.study_of(BASE_URL, 1) == study.resolve()


def test_submit_json_prints_the_job_id(cli: Cli, fake: FakeDriver, tmp_path: Path) -> None:
    result = cli("submit", str(make_study(tmp_path)), "--json")
    assert result.code == 0, result.err
    assert json.loads(result.out) == {"job_id": 1, "warnings": []}
    assert fake.submissions[0].fields == {"priority": "50", "name": "study"}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--years", "0-2"], "error: --years '0-2': years count from 1, as in Antares"),
        (["--years", "9"], "error: --years: year 9 is beyond the study's 5 MC years"),
        (
            ["--years", "2"],
            "error: --years: year 2 is not in the study's playlist (active years: 1,3-4)",
        ),
        (
            ["--priority", "0"],
            "error: --priority must be between 1 and 100 (higher runs first), not 0",
        ),
        *(
            (
                ["--time-limit", given],
                "error: --time-limit must be a positive number of seconds, at most 31536000 "
                f"(a year), not {shown}",
            )
            for given, shown in [
                ("0", "0"),
                ("inf", "inf"),
                ("1e309", "inf"),
                ("nan", "nan"),
                ("-inf", "-inf"),
                ("31536001", "3.1536e+07"),
            ]
        ),
    ],
)
def test_bad_options_are_refused_before_any_upload(
    cli: Cli, fake: FakeDriver, tmp_path: Path, args: list[str], message: str
) -> None:
    result = cli("submit", str(make_study(tmp_path, active=[0, 2, 3])), *args)
    assert (result.code, result.err.strip()) == (2, message)
    assert fake.requests == []


def test_invalid_study_is_refused_with_the_inspect_message(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    study = make_study(tmp_path)
    (study / "study.antares").unlink()
    result = cli("submit", str(study))
    assert result.code == 2
    assert (
        result.err.strip() == f"error: no study.antares in {study} (not an Antares study folder?)"
    )
    assert fake.requests == []
    missing = cli("submit", str(tmp_path / "nowhere"))
    assert (missing.code, missing.err.strip()) == (
        2,
        f"error: {tmp_path / 'nowhere'} does not exist",
    )


def test_submit_wait_download_lands_in_the_study_output(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    study = make_study(tmp_path)
    fake.next_job_states = SUCCESS
    fake.next_job_result = run_folder_zip(RUN, RESULT_FILES)
    result = cli("submit", str(study), "--download")
    assert result.code == 0, result.err
    run = study / "output" / RUN
    assert result.out.splitlines() == ["submitted job 1", f"job 1 succeeded: {run}"]
    assert (run / "mc-all" / "x.txt").read_bytes() == b"42\n"
    assert (study / "output" / "20250101-0000eco" / "old.txt").is_file()  # untouched
    assert sorted(p.name for p in (study / "output").iterdir()) == ["20250101-0000eco", RUN]


def test_submit_download_dest_lands_in_dest(cli: Cli, fake: FakeDriver, tmp_path: Path) -> None:
    study = make_study(tmp_path)
    fake.next_job_states = SUCCESS
    fake.next_job_result = run_folder_zip(RUN, RESULT_FILES)
    dest = tmp_path / "results"
    result = cli("submit", str(study), "--download", str(dest))
    assert result.code == 0, result.err
    assert result.out.splitlines() == ["submitted job 1", f"job 1 succeeded: {dest / RUN}"]
    assert (dest / RUN / "mc-all" / "x.txt").read_bytes() == b"42\n"
    assert not (study / "output" / RUN).exists()


def test_submit_dest_without_download_is_refused_before_any_upload(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    dest = tmp_path / "results"
    result = cli("submit", str(make_study(tmp_path)), str(dest))
    assert (result.code, result.err.strip()) == (
        2,
        f"error: unexpected argument {dest}: to fetch the result there, write `--download {dest}`",
    )
    assert fake.requests == []


def test_submit_wait_json_reports_failure_with_exit_3(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    fake.next_job_states = [{"status": JobStatus.FAILED, "error": "year 3 failed 3 times"}]
    result = cli("submit", str(make_study(tmp_path)), "--wait", "--json")
    assert result.code == 3
    assert json.loads(result.out) == {"job_id": 1, "warnings": [], "status": "failed"}
    assert result.err.splitlines()[-1] == "error: job 1 failed: year 3 failed 3 times"


def test_download_defaults_to_the_submitted_study(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    study = make_study(tmp_path)
    fake.next_job_states = SUCCESS
    fake.next_job_result = run_folder_zip(RUN, RESULT_FILES)
    assert cli("submit", str(study), "--wait").code == 0
    result = cli("download", "1")
    assert result.code == 0, result.err
    assert result.out.strip() == str(study / "output" / RUN)
    again = cli("download", "1")
    assert again.code == 2
    assert again.err.strip() == (
        f"error: {study / 'output' / RUN} already exists: remove it or choose another destination"
    )
    elsewhere = cli("download", "1", str(tmp_path / "elsewhere"), "--json")
    assert json.loads(elsewhere.out) == {"job_id": 1, "output": str(tmp_path / "elsewhere" / RUN)}


def test_download_accepts_an_archive_of_the_folder_content(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in RESULT_FILES.items():
            archive.writestr(name, data)
    fake.add(make_job(4, status=JobStatus.SUCCEEDED, run_folder=RUN, result_available=True))
    fake.results[4] = buffer.getvalue()
    result = cli("download", "4", str(tmp_path / "out"))
    assert result.code == 0, result.err
    assert (tmp_path / "out" / RUN / "mc-all" / "x.txt").is_file()


def test_download_without_dest_of_a_foreign_job_says_to_give_one(
    cli: Cli, fake: FakeDriver
) -> None:
    fake.add(make_job(3, status=JobStatus.SUCCEEDED, result_available=True, run_folder=RUN))
    result = cli("download", "3")
    assert result.code == 2
    assert "job 3 was not submitted from this machine" in result.err
    assert "winjobs download 3 path/to/study/output" in result.err


def test_download_of_an_unfinished_job(cli: Cli, fake: FakeDriver, tmp_path: Path) -> None:
    fake.add(make_job(2, status=JobStatus.RUNNING))
    result = cli("download", "2", str(tmp_path / "out"))
    assert result.code == 1
    assert result.err.strip() == (
        "error: job 2 is running: it has no result to download yet (wait for it: winjobs wait 2)"
    )
    assert not (tmp_path / "out").exists()


def test_hostile_result_leaves_nothing_behind(cli: Cli, fake: FakeDriver, tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr(f"{RUN}/ok.txt", b"fine")
        archive.writestr("../escaped.txt", b"evil")
    fake.add(make_job(5, status=JobStatus.SUCCEEDED, run_folder=RUN, result_available=True))
    fake.results[5] = buffer.getvalue()
    dest = tmp_path / "out"
    result = cli("download", "5", str(dest))
    assert result.code == 1
    assert result.err.splitlines()[-1] == (
        "error: the result of job 5 was refused: unsafe entry '../escaped.txt': "
        "'..' leads outside the folder"
    )
    assert list(dest.iterdir()) == []
    assert not (tmp_path / "escaped.txt").exists()


def test_an_unknown_job_is_asked_of_the_driver_first(cli: Cli, fake: FakeDriver) -> None:
    """Not "job 999 was not submitted from this machine" (exit 2): the driver knows best."""
    result = cli("download", "999")
    assert (result.code, result.err) == (1, "error: job 999 not found (HTTP 404)\n")


@pytest.fixture
def packed(monkeypatch: pytest.MonkeyPatch) -> list[Path]:
    """The studies `submit` packed (it packs nothing before the driver said yes)."""
    calls: list[Path] = []
    real = transfer.pack_study

    def pack(study: Path, dest: Path, **kwargs: object) -> object:
        calls.append(study)
        return real(study, dest, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(transfer, "pack_study", pack)
    return calls


@pytest.mark.parametrize(
    ("token", "message"),
    [
        ("wrong", "not signed in (check the token): missing or unknown token (HTTP 401) "
         "(token from --token)"),
        ("pool-token", "the token belongs to pool, a worker token: submitting needs a user or "
         "admin token"),
    ],
)  # fmt: skip
def test_submit_checks_the_token_before_packing(
    cli: Cli, fake: FakeDriver, tmp_path: Path, packed: list[Path], token: str, message: str
) -> None:
    study = make_study(tmp_path)
    result = cli("submit", str(study), "--driver", BASE_URL, "--token", token, auth=False)
    assert (result.code, result.err.splitlines()[-1]) == (1, f"error: {message}")
    assert packed == [] and fake.submissions == []
    assert cli("submit", str(study)).code == 0 and packed == [study]


def test_submit_checks_the_driver_before_packing(
    cli: Cli, fake: FakeDriver, tmp_path: Path, packed: list[Path]
) -> None:
    fake.unreachable = True
    result = cli("submit", str(make_study(tmp_path)))
    assert result.code == 1
    assert result.err.startswith(f"error: cannot reach the driver at {BASE_URL}")
    assert packed == []
