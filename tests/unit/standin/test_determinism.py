"""A year's numbers depend on the study input, the mode and the year only.

That is what makes a split run mergeable: years {2, 5} run alone must give byte-identical
mc-ind files to the same years of a full run, whatever the playlist, the weights, the
parallelism or year-by-year. And mc-all must follow the solver's rules on the played
years with their weights.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

from tests.helpers.output_compare import compare_tables
from tests.unit.standin.conftest import only_run, run_inprocess, set_settings
from winjobs.antares.ini import IniDocument
from winjobs.antares.playlist import write_task_playlist
from winjobs.antares.values import read_table
from winjobs.standin import results


def _files(folder: Path) -> dict[str, bytes]:
    return {p.relative_to(folder).as_posix(): p.read_bytes() for p in folder.rglob("*.txt")}


def _run(study: Path, *options: str) -> Path:
    outcome = run_inprocess([*options, str(study)])
    assert outcome.status == 0, outcome.stdout[-2000:]
    return only_run(study)


def test_years_run_alone_equal_the_same_years_of_a_full_run(
    small_study: Callable[..., Path],
) -> None:
    full_study = small_study(nbyears=6, name="full")
    part_study = small_study(nbyears=6, name="part")
    write_task_playlist(part_study, [1, 4])
    full = _run(full_study) / "economy" / "mc-ind"
    part = _run(part_study, "--force-parallel=2") / "economy" / "mc-ind"
    assert sorted(p.name for p in part.iterdir()) == ["00002", "00005"]
    for year in ("00002", "00005"):
        assert _files(part / year) == _files(full / year), year
        assert len(_files(full / year)) == 3 * 5 + 3 * 5 + 3 * 5  # values, details, links
    week = "optimization/week-by-week/year_4.txt"
    assert (full.parents[1] / week).read_bytes() == (part.parents[1] / week).read_bytes()


def test_parallelism_and_year_by_year_do_not_change_results(
    small_study: Callable[..., Path],
) -> None:
    serial = _run(small_study(nbyears=5, name="serial"))
    parallel = _run(small_study(nbyears=5, name="parallel"), "--force-parallel=3")
    assert _files(serial / "economy") == _files(parallel / "economy")
    quiet_study = small_study(nbyears=5, name="quiet")
    set_settings(quiet_study, "general", {"year-by-year": "false"})
    quiet = _run(quiet_study)
    assert not (quiet / "economy" / "mc-ind").exists()
    assert _files(quiet / "economy" / "mc-all") == _files(serial / "economy" / "mc-all")
    shutil.rmtree(quiet_study / "output")
    forced = _run(quiet_study, "--year-by-year")
    assert _files(forced / "economy" / "mc-ind") == _files(serial / "economy" / "mc-ind")


def test_numbers_follow_the_input_and_the_mode(small_study: Callable[..., Path]) -> None:
    base = _run(small_study(nbyears=1, name="base"))
    changed_study = small_study(nbyears=1, name="changed")
    load = next((changed_study / "input" / "load" / "series").iterdir())
    load.write_bytes(load.read_bytes().replace(b"1", b"2", 1))
    changed = _run(changed_study)
    file = "economy/mc-ind/00001/areas/north/values-hourly.txt"
    assert (base / file).read_bytes() != (changed / file).read_bytes()
    adequacy = _run(small_study(nbyears=1, name="adq"), "--adequacy")
    other = file.replace("economy", "adequacy")
    assert (base / file).read_bytes() != (adequacy / other).read_bytes()


def _weighted_study(make: Callable[..., Path], weights: dict[int, str]) -> Path:
    study = make(nbyears=5, name="weighted")
    set_settings(study, "general", {"user-playlist": "true"})
    path = study / "settings" / "generaldata.ini"
    document = IniDocument.read(path)
    items = [("playlist_reset", "false")]
    items += [("playlist_year +", str(year)) for year in weights]
    items += [("playlist_year_weight", f"{year},{w}") for year, w in weights.items()]
    document.replace_section("playlist", items)
    document.write(path)
    return study


def test_mc_all_follows_playlist_and_weights(small_study: Callable[..., Path]) -> None:
    weights = {0: "4.000000", 2: "10.000000", 3: "1.000000"}
    run = _run(_weighted_study(small_study, weights))
    mc_ind, mc_all = run / "economy" / "mc-ind", run / "economy" / "mc-all"
    assert sorted(p.name for p in mc_ind.iterdir()) == ["00001", "00003", "00004"]
    w = np.array([float(v) for v in weights.values()])
    for relative in ("areas/north/values-daily.txt", "links/north - south/values-weekly.txt"):
        years = [read_table(mc_ind / y / relative) for y in ("00001", "00003", "00004")]
        synthesis = read_table(mc_all / relative)
        stacked = np.stack([t.values for t in years])
        for j, column in enumerate(years[0].columns):
            exact = stacked[:, :, j]
            wanted = {
                "EXP": (w[:, None] * exact).sum(axis=0) / w.sum(),
                "min": exact.min(axis=0),
                "max": exact.max(axis=0),
            }
            for k, printed in enumerate(synthesis.columns):
                if printed.caption != column.caption or printed.stat not in wanted:
                    continue
                # mc-ind values are themselves rounded: one printed unit each side.
                tolerance = 1.01 * 10.0**-column.decimals + 1e-9 * np.abs(wanted["EXP"])
                np.testing.assert_allclose(
                    synthesis.values[:, k], wanted[printed.stat], rtol=0, atol=tolerance.max()
                )


def test_id_files_name_the_year_of_the_extreme(small_study: Callable[..., Path]) -> None:
    run = _run(small_study(nbyears=4, name="ids"))
    relative = "areas/south/values-monthly.txt"
    years = [read_table(run / "economy" / "mc-ind" / f"{y:05d}" / relative) for y in (1, 2, 3, 4)]
    ids = read_table(run / "economy" / "mc-all" / relative.replace("values", "id"))
    stacked = np.stack([t.values for t in years])
    column = [c.caption for c in years[0].columns].index("LOAD")
    min_col = [(c.caption, c.stat) for c in ids.columns].index(("LOAD", "min"))
    max_col = [(c.caption, c.stat) for c in ids.columns].index(("LOAD", "max"))
    assert (ids.values[:, min_col] == stacked[:, :, column].argmin(axis=0) + 1).all()
    assert (ids.values[:, max_col] == stacked[:, :, column].argmax(axis=0) + 1).all()


@pytest.mark.shared_data
def test_printing_edge_cases_and_plausible_numbers(shared_antares: Path, tmp_path: Path) -> None:
    """Real studies give LOLD/LOLP > 0 in some years only, some congestion, and the
    printing edge cases `0`, `-0`, `-0.00` and `N/A` (H. VAL without a reservoir)."""
    study = tmp_path / "ntc"
    shutil.copytree(shared_antares / "studies" / "multiple-ntc-sc-builder", study)
    for path in [study, *study.rglob("*")]:
        path.chmod(path.stat().st_mode | 0o200)
    run = _run(study)
    economy = run / "economy"
    hourly = b"".join(p.read_bytes() for p in economy.glob("mc-ind/*/areas/*/values-hourly.txt"))
    for token in (b"\t0\t", b"\t-0\t", b"\t-0.00\t", b"\tN/A\t"):
        assert token in hourly, token
    lolp = read_table(economy / "mc-all" / "areas" / "sink 1" / "values-annual.txt")
    share = lolp.values[0, [c.caption for c in lolp.columns].index("LOLP")]
    assert 0 < share < 100, "loss of load in some years, not all"
    link = read_table(economy / "mc-all" / "links" / "sink 1 - source" / "values-hourly.txt")
    congestion = link.values[:, [c.caption for c in link.columns].index("CONG. PROB +")]
    assert 0 < (congestion > 0).mean() < 0.5


def test_long_runs_fold_statistics_in_chunks(
    small_study: Callable[..., Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Folding chunks of years with `stats.pool` (bounded memory) prints what a single
    synthesis over all years prints, within one unit of the last digit."""
    whole = _run(small_study(nbyears=7, name="whole")) / "economy" / "mc-all"
    monkeypatch.setattr(results, "MEMORY_BUDGET", 1)  # one year per chunk
    chunked = _run(small_study(nbyears=7, name="chunked")) / "economy" / "mc-all"
    files = sorted(p.relative_to(whole) for p in whole.rglob("*.txt"))
    assert files == sorted(p.relative_to(chunked) for p in chunked.rglob("*.txt"))
    for relative in files:
        if relative.name.startswith("id-") or relative.parts[0] == "grid":
            assert (whole / relative).read_bytes() == (chunked / relative).read_bytes()
        else:
            assert compare_tables(read_table(whole / relative), read_table(chunked / relative),
                                  str(relative)) == []  # fmt: skip
