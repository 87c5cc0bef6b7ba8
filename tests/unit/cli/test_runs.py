"""`winjobs merge`: a summary line on success, one error line and a status on failure."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

from tests.helpers.fidelity import compare_split
from tests.helpers.real_outputs import real_outputs, run_folder
from tests.helpers.real_solver import RealSolver, real_solver
from tests.helpers.study_variants import VariantCache, study_variants
from tests.unit.antares.test_merge import study_as_run
from winjobs.cli import main

__all__ = ["real_outputs", "real_solver", "study_variants"]  # fixtures, for this module


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


@pytest.mark.shared_data
@pytest.mark.slow
def test_merge_command_takes_and_gives_zipped_runs(
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    real_solver: RealSolver,
    study_variants: VariantCache,
    shared_antares: Path,
    tmp_path: Path,
) -> None:
    """`result-format = zip`: the real solver writes `<run>.zip`; `winjobs merge` takes
    those and writes the merged run zipped too, `.zip` added to OUT."""
    source = shared_antares / "studies" / "bc-rhs-scenario-simple-v870"
    study = study_variants.get(source, "zip")
    parts = [real_solver.run(study, years=[year]).folder() for year in (1, 0)]
    assert all(part.suffix == ".zip" and part.is_file() for part in parts)
    out = tmp_path / "20261202-0000eco-merged"
    args = ["merge", "--study", str(study), "-o", str(out), *map(str, parts)]
    code, stdout, stderr = _run(monkeypatch, capsys, *args)
    assert (code, stderr) == (0, "")
    zipped = out.with_name(out.name + ".zip")
    assert stdout.strip().endswith(f"into {zipped}") and not out.exists()
    full = real_solver.run(study).folder()
    assert compare_split(full, zipped, parts, tmp_path / "cmp") == []
