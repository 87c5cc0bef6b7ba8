"""Validate a submitted study archive before anything is stored.

The archive is unpacked with zip-bomb and path guards (`winjobs.antares.archive`) into a
temporary folder and opened with the same rules as `winjobs inspect`
(`winjobs.antares.study`); the requested years must be a subset of the study's active
years. On any problem the temporary files are removed and `Invalid` carries every reason.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from winjobs.antares.playlist import write_task_playlist
from winjobs.antares.study import STUDY_FILE, Study, open_study
from winjobs.antares.unpack import UnpackLimits, unpack_archive
from winjobs.driver.errors import Invalid
from winjobs.driver.files import remove_tree
from winjobs.driver.store import describe_years
from winjobs.errors import ArchiveError, StudyError


@dataclass(frozen=True)
class Intake:
    study: Study
    root: Path  #: the unpacked study folder (inside `dest`)
    years: list[int]  #: the 0-based years to run, ascending


def parse_years(text: str | None, active: Sequence[int]) -> list[int]:
    """`"0,3,4"` -> [0, 3, 4]; empty -> every active year. 0-based, as on the wire."""
    if text is None or not text.strip():
        return sorted(active)
    chosen: set[int] = set()
    for token in text.split(","):
        token = token.strip()
        if not (token.isascii() and token.isdigit()):
            raise Invalid(
                f"years: {token!r} is not a 0-based year number "
                "(expected a comma-separated list such as 0,1,5)"
            )
        chosen.add(int(token))
    foreign = sorted(chosen - set(active))
    if foreign:
        raise Invalid(
            f"years: {', '.join(map(str, foreign))} (0-based) are not active years of the "
            f"study, whose active years are {describe_years(active)} (1-based)"
        )
    return sorted(chosen)


def _study_root(folder: Path) -> Path:
    """The study is the archive's root, or its only top-level folder (hand-made zips)."""
    if (folder / STUDY_FILE).exists():
        return folder
    children = [p for p in folder.iterdir() if not p.name.startswith(".")]
    if len(children) == 1 and (children[0] / STUDY_FILE).is_file():
        return children[0]
    return folder


def _hide(exc: Exception, dest: Path) -> str:
    """The message without the driver's temporary paths (meaningless to the user)."""
    text = str(exc)
    for path in sorted({str(dest), str(dest.resolve())}, key=len, reverse=True):
        text = text.replace(path + "/", "").replace(path, "the archive")
    return text


def validate_submission(
    archive: Path,
    dest: Path,
    limits: UnpackLimits,
    years_text: str | None,
    max_years: int,
) -> Intake:
    """Unpack `archive` into `dest` (which must not exist) and check the study in it."""
    try:
        unpack_archive(archive, dest, limits=limits, label="the uploaded zip")
        root = _study_root(dest)
        study = open_study(root)
        years = parse_years(years_text, study.years)
        if not years:
            raise Invalid("the study has no active MC year to run")
        if len(years) > max_years:
            raise Invalid(
                f"{len(years)} years requested; this driver accepts at most {max_years} per job"
            )
        if years != sorted(study.years):
            # the job's copy of the study plays the chosen years, so the merged output
            # (whose parameters.ini is this generaldata.ini) says which years it holds
            write_task_playlist(root, years)
        return Intake(study=study, root=root, years=years)
    except ArchiveError as exc:
        remove_tree(dest)
        raise Invalid(f"the study archive was refused: {_hide(exc, dest)}") from exc
    except StudyError as exc:
        remove_tree(dest)
        raise Invalid(f"invalid study: {_hide(exc, dest)}") from exc
    except BaseException:
        remove_tree(dest)
        raise
