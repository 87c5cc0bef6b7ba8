"""Small valid study folders written by hand, for the CLI tests."""

from __future__ import annotations

from pathlib import Path

GENERAL = """[general]
mode = Economy
horizon = 2030
nbyears = {nbyears}
year-by-year = true
derated = false
user-playlist = {user_playlist}

[output]
synthesis = true

[other preferences]
initial-reservoir-levels = cold start
{playlist}"""


def make_study(
    root: Path, name: str = "study", nbyears: int = 5, active: list[int] | None = None
) -> Path:
    """A study of `nbyears` years; `active` (0-based) restricts its playlist."""
    folder = root / name
    (folder / "settings").mkdir(parents=True)
    (folder / "input" / "areas").mkdir(parents=True)
    (folder / "input" / "areas" / "list.txt").write_text("north\nsouth\n")
    (folder / "study.antares").write_text(f"[antares]\nversion = 880\ncaption = {name}\n")
    playlist = ""
    if active is not None:
        lines = "".join(f"playlist_year + = {year}\n" for year in active)
        playlist = f"\n[playlist]\nplaylist_reset = false\n{lines}"
    (folder / "settings" / "generaldata.ini").write_text(
        GENERAL.format(
            nbyears=nbyears,
            user_playlist="true" if active is not None else "false",
            playlist=playlist,
        )
    )
    (folder / "output" / "20250101-0000eco").mkdir(parents=True)
    (folder / "output" / "20250101-0000eco" / "old.txt").write_text("an earlier local run")
    return folder
