"""Output tables: exact text round trip, vectorised number format, tables from scratch."""

from __future__ import annotations

import math
import re
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from winjobs.antares.calendar import Calendar
from winjobs.antares.textnum import render_block
from winjobs.antares.values import Column, OutputTable, read_table
from winjobs.errors import OutputError

HOURLY_HEADER = (
    "Source\tarea\tva\thourly\n"
    "\tVARIABLES\tBEGIN\tEND\n"
    "\t3\t1\t2\n"
    "\n"
    "Source\thourly\t\t\t\tOV. COST\tMRG. PRICE\tLOLP\n"
    "\t\t\t\t\tEuro\tEuro\t%\n"
    "\tindex\tday\tmonth\thour\tEXP\tEXP\tvalues\n"
)


def _reference(value: float, decimals: int) -> str:
    """The solver's printing rule, cell by cell, for comparison."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+inf" if value > 0 else "-inf"
    if abs(value) < 1e-6:
        return "0"
    return f"{value:.{decimals}f}"


def test_special_tokens_round_trip_byte_for_byte() -> None:
    text = HOURLY_HEADER + (
        "\t1\t01\tJAN\t00:00\t-0\t0.00\tN/A\n\t2\t01\tJAN\t01:00\t1234567\t-0.00\tNaN\n"
    )
    text = text.replace("\t3\t1\t2\n", "\t3\t1\t2\n")
    table = OutputTable.parse(text.encode())
    assert table.kind == "values"
    assert table.period == "hourly"
    assert table.index == ["1\t01\tJAN\t00:00", "2\t01\tJAN\t01:00"]
    assert [c.decimals for c in table.columns] == [0, 2, 2]
    assert table.not_applicable is not None and table.not_applicable[0, 2]
    assert table.values[1, 0] == 1234567
    assert table.values[0, 0] < 0 and abs(table.values[0, 0]) < 1e-5  # a printed "-0"
    assert table.to_bytes() == text.encode()


def test_infinities_and_link_header_round_trip() -> None:
    text = (
        b"Sink 1\tlink\tva\tannual\nSource\tVARIABLES\tBEGIN\tEND\n\t2\t1\t1\n\n"
        b"Sink 1\tannual\tFLOW LIN.\tCONG. PROB +\n\t\tMWh\t%\n\t\t\t\n"
        b"\tAnnual\t+inf\t-inf\n"
    )
    table = OutputTable.parse(text)
    assert table.link_to == "Source"
    assert table.columns[0].stat == ""  # an mc-ind file
    assert table.to_bytes() == text


def test_malformed_rows_name_the_file() -> None:
    bad = HOURLY_HEADER + "\t1\t01\tJAN\t00:00\t1\t2\n"
    with pytest.raises(OutputError, match=r"demo\.txt: expected 8 tab-separated fields"):
        OutputTable.parse(bad.encode(), source="demo.txt")
    split = HOURLY_HEADER + "\t1\t01\tJAN\t00:00\t1\n2\t3\n"
    with pytest.raises(OutputError, match=r"tab-separated fields|column index"):
        OutputTable.parse(split.encode())  # a row cut in two lines
    with pytest.raises(OutputError, match="not an Antares output file"):
        OutputTable.parse(b"hello\n", source="x")
    with pytest.raises(OutputError, match="not a number"):
        OutputTable.parse((HOURLY_HEADER + "\t1\t01\tJAN\t00:00\t1\tabc\t2\n").encode())


@settings(max_examples=120, deadline=None)
@given(
    values=st.lists(
        st.one_of(
            st.floats(allow_nan=True, allow_infinity=True, width=64),
            st.floats(min_value=-1e6, max_value=1e6),
            st.integers(-(10**7), 10**7).map(lambda i: i / 200),  # decimal ties, 2 places
            st.integers(-(10**7), 10**7).map(lambda i: i / 20),
            st.integers(-(10**9), 10**9).map(lambda i: i / 2000),
            st.sampled_from([0.0, -0.0, 1e-6, -1e-6, 9.99e-7, 0.005, 0.125, 2.5, -2.5]),
        ),
        min_size=1,
        max_size=40,
    ),
    decimals=st.integers(0, 3),
)
def test_renderer_prints_like_c_printf(values: list[float], decimals: int) -> None:
    matrix = np.array(values, dtype=np.float64).reshape(-1, 1)
    index = [str(i + 1) for i in range(len(values))]
    text = render_block(index, matrix, np.array([decimals])).decode()
    expected = "".join(
        f"\t{i}\t{_reference(v, decimals)}\n" for i, v in zip(index, values, strict=True)
    )
    assert text == expected


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.floats(min_value=-1e9, max_value=1e9), min_size=3, max_size=30),
    st.lists(st.integers(0, 2), min_size=3, max_size=3),
)
def test_parse_then_write_is_identity(values: list[float], decimals: list[int]) -> None:
    rows = len(values) // 3
    matrix = np.array(values[: rows * 3]).reshape(rows, 3)
    cal = Calendar.from_settings(simulation_end=7)
    columns = [Column(f"V{j}", "MWh", "EXP", d) for j, d in enumerate(decimals)]
    table = OutputTable.build("A", kind="values", period="daily", calendar=cal, columns=columns,
                              values=np.resize(matrix, (7, 3)))  # fmt: skip
    text = table.to_bytes()
    again = OutputTable.parse(text)
    assert again.to_bytes() == text
    assert np.allclose(again.values, np.round(table.values, 3), atol=0.51)


def test_build_prints_the_solver_index_columns() -> None:
    cal = Calendar.from_settings()
    ones = {p: np.ones((n, 1)) for p, n in (("hourly", 8736), ("daily", 364), ("weekly", 52))}
    column = [Column("LOAD", "MWh", "", 0)]
    hourly = OutputTable.build(
        "North", kind="values", period="hourly", calendar=cal, columns=column,
        values=-0.0 * ones["hourly"],
    )  # fmt: skip
    text = hourly.to_bytes().decode()
    lines = text.split("\n")
    assert lines[:7] == [
        "North\tarea\tva\thourly",
        "\tVARIABLES\tBEGIN\tEND",
        "\t1\t1\t8736",
        "",
        "North\thourly\t\t\t\tLOAD",
        "\t\t\t\t\tMWh",
        "\tindex\tday\tmonth\thour\t",
    ]
    assert lines[7] == "\t1\t01\tJAN\t00:00\t0"  # -0.0 of a true value prints 0
    assert lines[-2] == "\t8736\t30\tDEC\t23:00\t0"
    weekly = cal.index("weekly")
    assert weekly == ([str(w) for w in range(1, 53)], 1, 52)
    monthly, first, last = cal.index("monthly")
    assert monthly[0] == "1\tJAN" and monthly[-1] == "12\tDEC" and (first, last) == (1, 12)
    assert cal.index("annual") == (["Annual"], 1, 1)
    with pytest.raises(ValueError, match="expected"):
        OutputTable.build("x", kind="values", period="daily", calendar=cal, columns=column,
                          values=ones["weekly"])  # fmt: skip


def test_calendar_of_other_settings() -> None:
    short = Calendar.from_settings(simulation_end=70)
    assert short.index("hourly")[2] == 1680
    assert short.index("monthly")[0] == ["1\tJAN", "2\tFEB", "3\tMAR"]
    assert short.index("daily")[0][-1] == "70\t11\tMAR"
    july = Calendar.from_settings(first_month="july", january_1st="Monday", leapyear=True)
    days, first, last = july.index("daily")
    assert days[0] == "1\t01\tJUL" and (first, last) == (1, 364)
    months, _, _ = july.index("monthly")
    assert months[0] == "1\tJUL" and months[6] == "7\tJAN"
    weeks, _, _ = july.index("weekly")
    assert "1" in weeks and weeks[0] != "1"  # weeks before 1st January count down to 52
    assert weeks[weeks.index("1") - 1] == "52"
    with pytest.raises(ValueError, match="no whole week"):
        Calendar.from_settings(simulation_end=5)
    with pytest.raises(ValueError, match="weekday"):
        Calendar.from_settings(january_1st="Someday")


_OUTPUT_FILE = re.compile(
    r"(values|details|details-res|details-STstorage|id|binding-constraints)"
    r"-(hourly|daily|weekly|monthly|annual)\.txt"
)


@pytest.mark.shared_data
@pytest.mark.slow
def test_every_real_output_file_round_trips(real_outputs: Path) -> None:
    files = [p for p in real_outputs.rglob("*.txt") if _OUTPUT_FILE.fullmatch(p.name)]
    assert len(files) > 800
    for path in files:
        assert read_table(path).to_bytes() == path.read_bytes(), path


@pytest.mark.shared_data
def test_real_index_columns_match_the_calendar(real_outputs: Path) -> None:
    """Index columns of the real runs (365 and 70 simulated days) equal the calendar's."""
    for name, end in (("ntc-full", 365), ("adq-full", 70)):
        cal = Calendar.from_settings(simulation_end=end)
        (run,) = (real_outputs / name).iterdir()
        for period in ("hourly", "daily", "weekly", "monthly", "annual"):
            (path,) = [p for p in run.rglob(f"mc-all/areas/*/values-{period}.txt")][:1]
            table = read_table(path)
            assert (table.index, table.first, table.last) == cal.index(period), (name, period)
