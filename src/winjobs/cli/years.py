"""MC-year lists as users type and read them: `1-10,15`, 1-based like Antares' own screens.

Everything past the CLI (wire, driver, worker, `generaldata.ini`) counts years from 0; the
conversion happens here and nowhere else: `parse_years` turns a user's spec into sorted
0-based years, `format_years` turns 0-based years back into a compact 1-based spec.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence

from winjobs.errors import WinjobsError


class YearsError(WinjobsError):
    """A `--years` spec the user must correct."""

    exit_code = 2


def parse_years(spec: str) -> list[int]:
    """`"1-3,7"` -> `[0, 1, 2, 6]`: sorted, 0-based. A year given twice (`1,1`, `1-3,2`)
    is refused: it says the spec is not what its writer meant, and one job cannot run a
    year twice."""
    if not spec.strip():
        raise YearsError("--years is empty: give years like 1-10,15 (1-based, as in Antares)")
    years: set[int] = set()
    for part in spec.split(","):
        item = part.strip()
        if not item:
            raise YearsError(f"--years {spec!r}: empty item between commas")
        first_text, dash, last_text = item.partition("-")
        if dash and first_text:
            first, last = _year(first_text, spec), _year(last_text, spec)
            if last < first:
                raise YearsError(f"--years {spec!r}: range {item} goes backwards")
            chosen = range(first - 1, last)
        else:
            chosen = range(_year(item, spec) - 1, _year(item, spec))
        twice = sorted(years.intersection(chosen))
        if twice:
            raise YearsError(f"--years {spec!r}: year {twice[0] + 1} is given twice")
        years.update(chosen)
    return sorted(years)


def _year(text: str, spec: str) -> int:
    text = text.strip()
    if not text.isdigit():
        raise YearsError(
            f"--years {spec!r}: {text!r} is not a year number "
            "(give years like 1-10,15, 1-based as in Antares)"
        )
    year = int(text)
    if year < 1:
        raise YearsError(f"--years {spec!r}: years count from 1, as in Antares")
    return year


def check_years(years: Sequence[int], nbyears: int, active: Sequence[int]) -> None:
    """Every chosen (0-based) year must be one the study would run; say which is not."""
    beyond = [y for y in years if y >= nbyears]
    if beyond:
        raise YearsError(f"--years: year {beyond[0] + 1} is beyond the study's {nbyears} MC years")
    active_set = set(active)
    inactive = [y for y in years if y not in active_set]
    if inactive:
        raise YearsError(
            f"--years: year {inactive[0] + 1} is not in the study's playlist "
            f"(active years: {format_years(active)})"
        )


def format_years(years: Iterable[int]) -> str:
    """`[0, 1, 2, 6]` -> `"1-3,7"`: 0-based years shown 1-based, runs collapsed."""
    ordered = sorted(set(years))
    if not ordered:
        return "-"
    parts: list[str] = []
    start = prev = ordered[0]
    for year in [*ordered[1:], None]:
        if year is not None and year == prev + 1:
            prev = year
            continue
        parts.append(str(start + 1) if start == prev else f"{start + 1}-{prev + 1}")
        if year is not None:
            start = prev = year
    return ",".join(parts)
