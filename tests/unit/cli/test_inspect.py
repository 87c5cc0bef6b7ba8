"""`winjobs inspect`: the --json contract, the human summary, exit status 2 on a bad study."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT
from winjobs.antares.example import example_study_path, write_example_study
from winjobs.cli import main


def _run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], *args: str
) -> tuple[int, str, str]:
    monkeypatch.setattr(sys, "argv", ["winjobs", *args])
    with pytest.raises(SystemExit) as exited:
        main()
    out, err = capsys.readouterr()
    code = exited.value.code
    return (code if isinstance(code, int) else 0), out, err


def test_json_contract_of_the_bundled_study(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = _run(monkeypatch, capsys, "inspect", str(example_study_path()), "--json")
    assert (code, err) == (0, "")
    facts = json.loads(out)
    assert facts == {
        "name": "demo-study",
        "path": str(example_study_path()),
        "version": "8.8",
        "mode": "economy",
        "nbyears": 8,
        "years": [0, 1, 2, 3, 4, 5, 6, 7],
        "weights": {str(y): 1.0 for y in range(8)},
        "year_by_year": True,
        "synthesis": True,
        "splittable": True,
        "hot_start": False,
        "warnings": [],
    }


@pytest.mark.shared_data
def test_json_of_a_weighted_hot_start_study(
    shared_antares: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    study = shared_antares / "studies" / "playlist-1"
    code, out, _ = _run(monkeypatch, capsys, "inspect", str(study), "--json")
    facts = json.loads(out)
    assert code == 0
    assert (facts["years"], facts["weights"]) == ([1, 2], {"1": 10.0, "2": 3.0})
    assert facts["hot_start"] is True
    assert len(facts["warnings"]) == 1
    assert "hot start" in facts["warnings"][0]


def test_human_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_example_study(tmp_path / "demo")
    general = study / "settings" / "generaldata.ini"
    text = general.read_text().replace("user-playlist = false", "user-playlist = true")
    general.write_text(text + "[playlist]\nplaylist_year - = 2\nplaylist_year_weight = 0,2.5\n")
    code, out, _ = _run(monkeypatch, capsys, "inspect", str(study))
    assert code == 0
    assert "demo-study" in out
    # 1-based, as `submit --years` takes them: year 3 (0-based 2) is left out
    assert "active years" in out and "0-based" not in out
    assert "1-2,4-8  (7 years)" in out
    assert "1: 2.5, 2: 1, 4: 1" in out
    assert "8.8" in out


def test_warnings_with_brackets_are_printed_verbatim(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_example_study(tmp_path / "demo")
    general = study / "settings" / "generaldata.ini"
    general.write_text(general.read_text() + "[playlist]\nplaylist_year + = 99\n")
    code, out, _ = _run(monkeypatch, capsys, "inspect", str(study))
    assert code == 0
    assert "warning: [playlist] 'playlist_year + = 99' names year 99" in out


@pytest.mark.parametrize(
    ("break_it", "reason"),
    [
        (lambda s: (s / "study.antares").unlink(), "no study.antares"),
        (lambda s: shutil.rmtree(s), "does not exist"),
        (
            lambda s: (s / "settings" / "generaldata.ini").write_text(
                "[general]\nmode = Economy\nnbyears = 0\n"
            ),
            "must be >= 1",
        ),
    ],
)
def test_bad_study_exits_2_with_one_line(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    break_it: object,
    reason: str,
) -> None:
    study = write_example_study(tmp_path / "demo")
    break_it(study)  # type: ignore[operator]
    code, out, err = _run(monkeypatch, capsys, "inspect", str(study), "--json")
    assert code == 2
    assert out == ""
    assert err.startswith("error: ")
    assert reason in err
    assert err.count("\n") == 1


def test_console_script_exit_status(tmp_path: Path) -> None:
    """The installed `winjobs` entry point, as a user runs it."""
    exe = shutil.which("winjobs", path=str(PROJECT_ROOT / ".venv" / "bin"))
    if exe is None:
        pytest.skip("the winjobs console script is not installed in .venv")
    result = subprocess.run(
        [exe, "inspect", str(tmp_path)], capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: no study.antares")
    assert result.stdout == ""


def test_one_active_year_is_one_year(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    study = write_example_study(tmp_path / "demo", nbyears=1)
    code, out, _ = _run(monkeypatch, capsys, "inspect", str(study))
    assert code == 0 and "1  (1 year)" in out
