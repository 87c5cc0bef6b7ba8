"""`winjobs download` of a job whose study asks for `result-format = zip`: the run lands as
`DEST/<run>.zip`, as a single run of that study would leave it (issue 12)."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest

from tests.unit.cli.conftest import Cli
from tests.unit.cli.fake_driver import FakeDriver, make_job
from winjobs.wire import JobStatus

RUN = "20260105-0900eco-zipped"


def _zipped_run(result_format: str = "zip") -> bytes:
    """A run zipped like the solver does it: entries relative to the run."""
    files = {
        "info.antares-output": "[general]\nversion = 880\nmode = Economy\nname = zipped\n",
        "about-the-study/parameters.ini": (
            "[general]\nmode = Economy\nnbyears = 2\nyear-by-year = true\n"
            "user-playlist = false\n\n"
            f"[output]\nsynthesis = true\nresult-format = {result_format}\n"
        ),
        "economy/mc-ind/00001/areas/north/values-annual.txt": "42\n",
        "economy/mc-ind/00002/areas/north/values-annual.txt": "43\n",
        "execution_info.ini": "[general]\n",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in files.items():
            archive.writestr(name, text)
    return buffer.getvalue()


def _succeeded(fake: FakeDriver, job_id: int, result: bytes) -> None:
    fake.add(make_job(job_id, status=JobStatus.SUCCEEDED, run_folder=RUN, result_available=True))
    fake.results[job_id] = result


def test_a_zipped_run_is_kept_as_run_zip(cli: Cli, fake: FakeDriver, tmp_path: Path) -> None:
    served = _zipped_run()
    _succeeded(fake, 4, served)
    dest = tmp_path / "output"
    result = cli("download", "4", str(dest))
    assert result.code == 0, result.err
    assert result.out.strip() == str(dest / f"{RUN}.zip")
    assert sorted(p.name for p in dest.iterdir()) == [f"{RUN}.zip"]
    assert (dest / f"{RUN}.zip").read_bytes() == served  # as the driver served it
    again = cli("download", "4", str(dest))
    assert again.code == 2
    assert again.err.strip() == (
        f"error: {dest / f'{RUN}.zip'} already exists: remove it or choose another destination"
    )


def test_a_run_folder_of_that_name_also_stops_it(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    _succeeded(fake, 4, _zipped_run())
    (tmp_path / "output" / RUN).mkdir(parents=True)
    result = cli("download", "4", str(tmp_path / "output"))
    assert result.code == 2
    assert "already exists" in result.err
    assert sorted(p.name for p in (tmp_path / "output").iterdir()) == [RUN]


def test_a_run_of_txt_files_is_unpacked_as_before(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    _succeeded(fake, 4, _zipped_run(result_format="txt-files"))
    result = cli("download", "4", str(tmp_path / "output"))
    assert result.code == 0, result.err
    assert (tmp_path / "output" / RUN / "execution_info.ini").is_file()


@pytest.mark.parametrize("result_format", ["zip", "txt-files"])
def test_a_damaged_run_is_refused_and_leaves_nothing(
    cli: Cli, fake: FakeDriver, tmp_path: Path, result_format: str
) -> None:
    """Kept as a zip (checked whole first) or unpacked (checked as it is written, once)."""
    served = bytearray(_zipped_run(result_format))
    with zipfile.ZipFile(io.BytesIO(bytes(served))) as opened:
        info = opened.getinfo("economy/mc-ind/00002/areas/north/values-annual.txt")
    served[info.header_offset + 30 + len(info.filename)] ^= 0xFF  # inside its data
    _succeeded(fake, 4, bytes(served))
    dest = tmp_path / "output"
    result = cli("download", "4", str(dest))
    assert result.code == 1
    assert "the result of job 4 was refused" in result.err and "damaged" in result.err
    assert list(dest.iterdir()) == []
