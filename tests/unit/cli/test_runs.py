"""`winjobs merge`: a summary line on success, one error line and a status on failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers.real_outputs import real_outputs, run_folder
from tests.unit.antares.test_merge import study_as_run
from winjobs.cli import main

__all__ = ["real_outputs"]  # the fixture, imported for this module


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["winjobs", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out, err


@pytest.mark.shared_data
def test_merge_command(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    shared_antares: Path,
    real_outputs: Path,
    tmp_path: Path,
) -> None:
    study = study_as_run(shared_antares, "playlist-1-cold", "plc-full", tmp_path)
    parts = [str(run_folder(real_outputs, n)) for n in ("plc-part-1", "plc-part-2")]
    out = tmp_path / "merged"
    args = ["merge", "--study", str(study), "-o", str(out), "--mc-ind", "link", *parts]
    code, stdout, stderr = _run(monkeypatch, capsys, *args)
    assert (code, stderr) == (0, "")
    assert stdout.strip() == (
        f"merged 2 runs (2 MC years, 25 tables, 2 year-by-year folders) into {out}"
    )
    assert (out / "execution_info.ini").is_file()
    relative = out.parent / "merged-again"
    monkeypatch.chdir(out.parent)
    code, stdout, _ = _run(
        monkeypatch, capsys, *args[:4], "merged-again", "--mc-ind", "link", "--json", *parts
    )
    assert code == 0
    facts = json.loads(stdout)
    assert facts["output"] == str(relative) and facts["years"] == [1, 2]
    assert facts["runs"] == parts and (facts["tables"], facts["mc_ind_years"]) == (25, 2)
    code, stdout, stderr = _run(monkeypatch, capsys, *args)  # OUT exists now
    assert code == 1 and stdout == ""
    assert stderr.startswith("error: ") and "not empty" in stderr
    assert len(stderr.strip().splitlines()) == 1
    code, _, stderr = _run(monkeypatch, capsys, *args[:-3], "--mc-ind", "hardlink", parts[0])
    assert code == 2 and "copy, move or link" in stderr
