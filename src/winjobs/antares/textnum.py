"""Vectorised conversion between the solver's printed numbers and float64 matrices.

The solver prints each cell as `\\t` + `%.{d}f` of the value, `0` when |v| < 1e-6, and
`N/A`, `NaN`, `+inf`, `-inf` for the special cases. A run holds millions of cells, and a
per-cell Python `%` costs ~200 ns: far too slow for the merge target. So both directions
work on whole byte buffers with numpy:

- reading finds every field boundary with one pass over the bytes, lets a C reader
  (pandas' tokenizer for large blocks, numpy's loadtxt for small ones) parse the
  numbers, and uses the boundaries to recover what floats lose: the decimals each
  column was printed with, `N/A` cells, and the "printed zeros" `-0`,
  `0.00`, `-0.00` (values in (-0.5, -1e-6] or [1e-6, 0.005)...). Those are stored as
  +/-1e-6, a value inside their interval that prints back to the same text.
- writing computes each token's length, lays the whole text out with a cumulative sum and
  scatters digits into one `uint8` buffer, one pass per digit position.

Rounding is exact: `rint` of `v * 10**d` equals C's correctly rounded `%.{d}f` except
next to a decimal tie, where the few affected cells fall back to Python's `%` (the same
correctly rounded conversion as glibc and the UCRT).
"""

from __future__ import annotations

import io

import numpy as np
from numpy.typing import NDArray

#: |v| below this prints as `0` (the solver's Math::Zero).
ZERO = 1e-6
#: Value stored for a printed zero that is not `0` (`-0`, `0.00`, `-0.00`).
PRINTED_ZERO = 1e-6

_POW10 = np.array([10**k for k in range(19)], dtype=np.int64)
_FLOAT_POW10 = np.array([10.0**k for k in range(309)])
_EXACT_LIMIT = 2.0**52
_TAB, _NL, _DOT, _SLASH, _MINUS, _ZERO_CHAR = 9, 10, 46, 47, 45, 48
_SPECIAL = {"NaN": b"NaN", "+inf": b"+inf", "-inf": b"-inf", "N/A": b"N/A"}


class FieldError(ValueError):
    """The data rows do not have the expected number of tab-separated fields."""


def parse_block(
    body: bytes, n_index: int, n_values: int
) -> tuple[list[str], NDArray[np.float64], NDArray[np.int64], NDArray[np.bool_] | None]:
    """Parse data rows `\\t<index fields>\\t<values>\\n`.

    Returns the index text of each row (fields joined by tabs), the values, the decimals
    seen per column (-1 where no cell of the column shows them: all `0`) and the N/A
    mask (None when the block has no N/A).
    """
    fields_per_row = 1 + n_index + n_values
    first_value = 1 + n_index
    if not body:
        return [], np.zeros((0, n_values)), np.full(n_values, -1, np.int64), None
    if not body.endswith(b"\n"):
        body += b"\n"
    buf = np.frombuffer(body, dtype=np.uint8)
    seps = np.flatnonzero(buf < 11)  # tabs and newlines: the files hold no other control byte
    # Every row ends with its newline exactly when every fields_per_row-th separator is a
    # newline: a row with a field too few or too many shifts all the following ends.
    n_rows, extra = divmod(seps.size, fields_per_row)
    if extra or buf[-1] != _NL:
        raise FieldError(f"expected {fields_per_row} tab-separated fields on every data row")
    ends = seps.reshape(n_rows, fields_per_row)
    if not np.all(buf[ends[:, -1]] == _NL):
        raise FieldError(f"expected {fields_per_row} tab-separated fields on every data row")
    row_starts = np.concatenate(([0], ends[:-1, -1] + 1))
    index_ends = ends[:, n_index] if n_index else row_starts
    index = [
        body[s + 1 : e].decode("utf-8")
        for s, e in zip(row_starts.tolist(), index_ends.tolist(), strict=True)
    ]
    if n_values == 0:
        return index, np.zeros((n_rows, 0)), np.zeros(0, np.int64), None
    values = _read_numbers(body, range(first_value, fields_per_row))
    if values.shape != (n_rows, n_values):  # a newline in place of a tab splits a row
        raise FieldError(f"expected {fields_per_row} tab-separated fields on every data row")
    # Field lengths come from the gaps between separators: gap k is the length of field
    # k + 1 plus one, so a value cell (r, c) longer than one byte has gaps[r*F + c - 1] > 2.
    gaps = np.diff(seps)
    long_flat = np.empty(seps.size, dtype=bool)
    long_flat[:-1] = gaps > 2
    long_flat[-1] = False
    long = long_flat.reshape(n_rows, fields_per_row)[:, first_value - 1 : -1]
    # Work in the memory order the reader returned (pandas: column-major): elementwise
    # operations on arrays of one layout are several times faster than mixed ones.
    column_major = not values.flags.c_contiguous
    if column_major:
        grid, long = values.T, np.ascontiguousarray(long.T)
    else:
        grid = values
    zero = grid == 0.0
    wide = zero & long
    finite = np.isfinite(grid)
    axis = 1 if column_major else 0
    decimals = _decimals(grid, ends, first_value, ~zero | long, finite, axis)

    def cells(mask: NDArray[np.bool_]) -> tuple[NDArray[np.intp], NDArray[np.intp]]:
        i, j = np.nonzero(mask)
        return (j, i) if column_major else (i, j)

    not_applicable: NDArray[np.bool_] | None = None
    if not finite.all():
        rows, cols = cells(np.isnan(grid))
        before = ends[rows, first_value - 1 + cols]
        slash = buf[np.minimum(before + 2, buf.size - 1)] == _SLASH
        if slash.any():
            not_applicable = np.zeros(values.shape, dtype=bool)
            not_applicable[rows[slash], cols[slash]] = True
    if wide.any():  # `-0`, `0.00`, `-0.00`: a value too small for its decimals
        rows, cols = cells(wide)
        values[rows, cols] = np.copysign(PRINTED_ZERO, values[rows, cols])
    return index, values, decimals, not_applicable


#: Below this many bytes numpy's loadtxt is faster (pandas pays ~3 ms per call).
_PANDAS_FROM = 256 << 10


def _read_numbers(body: bytes, columns: range) -> NDArray[np.float64]:
    """All value columns as float64 with a C reader: numpy's loadtxt for small blocks,
    pandas' tokenizer (about twice as fast per byte) for large ones."""
    try:
        if len(body) < _PANDAS_FROM:
            return np.loadtxt(
                io.BytesIO(body.replace(b"N/A", b"nan")),
                delimiter="\t",
                usecols=columns,
                dtype=np.float64,
                ndmin=2,
                comments=None,
            )
        import pandas as pd

        frame = pd.read_csv(
            io.BytesIO(body),
            sep="\t",
            header=None,
            usecols=columns,
            dtype=np.float64,
            na_values=["N/A", "NaN"],
            keep_default_na=False,
            engine="c",
        )
    except ValueError as exc:
        raise FieldError(f"a value is not a number ({exc})") from None
    return frame.to_numpy(dtype=np.float64)


def _decimals(
    grid: NDArray[np.float64],
    ends: NDArray[np.intp],
    first_value: int,
    shown: NDArray[np.bool_],
    finite: NDArray[np.bool_],
    axis: int,
) -> NDArray[np.int64]:
    """Decimals per column, from the first cell of each column not printed `0`: its text
    length minus sign and integer digits (and the point) is the number of decimals.
    `grid` is (rows, columns) when axis is 0, (columns, rows) when it is 1; `ends` holds
    each field's end offset per row."""
    informative = shown & finite
    found = np.flatnonzero(informative.any(axis=axis))
    first = informative.argmax(axis=axis)[found]
    rows, cols = first, found
    sample = grid[cols, rows] if axis == 1 else grid[rows, cols]
    field = first_value + cols
    length = ends[rows, field] - ends[rows, field - 1] - 1
    integer = np.trunc(np.abs(sample))
    digits = np.maximum(1, np.searchsorted(_FLOAT_POW10, integer, side="right"))
    decimals = np.full(grid.shape[1 - axis], -1, np.int64)
    decimals[found] = np.maximum(0, length - np.signbit(sample) - digits - 1)
    return decimals


def render_block(
    index: list[str],
    values: NDArray[np.float64],
    decimals: NDArray[np.int64],
    not_applicable: NDArray[np.bool_] | None = None,
) -> bytes:
    """Data rows `\\t<index>` + `\\t<cell>`... + `\\n` in the solver's exact format."""
    n_rows, n_cols = values.shape
    prefixes = [("\t" + row).encode() for row in index]
    if len(prefixes) != n_rows:
        raise ValueError(f"{len(prefixes)} index rows for {n_rows} rows of values")
    if n_rows == 0:
        return b""
    dec = np.broadcast_to(np.asarray(decimals, dtype=np.int64), (n_rows, n_cols)).ravel()
    flat = np.ascontiguousarray(values, dtype=np.float64).ravel()
    kinds = _Kinds(flat, dec, not_applicable)

    lengths = np.empty((n_rows, n_cols + 2), dtype=np.int64)
    lengths[:, 0] = [len(p) for p in prefixes]
    lengths[:, 1:-1] = 1 + kinds.token_lengths().reshape(n_rows, n_cols)
    lengths[:, -1] = 1
    starts = (np.cumsum(lengths, axis=None) - lengths.ravel()).reshape(lengths.shape)
    out = np.zeros(int(lengths.sum()), dtype=np.uint8)

    prefix_bytes = np.frombuffer(b"".join(prefixes), dtype=np.uint8)
    prefix_offsets = np.cumsum(lengths[:, 0]) - lengths[:, 0]
    out[np.repeat(starts[:, 0] - prefix_offsets, lengths[:, 0]) + np.arange(prefix_bytes.size)] = (
        prefix_bytes
    )
    cell_starts = starts[:, 1:-1].ravel()
    out[cell_starts] = _TAB
    out[starts[:, -1]] = _NL
    kinds.scatter(out, cell_starts + 1)
    return out.tobytes()


def _round_scaled(magnitude: NDArray[np.float64], dec: NDArray[np.int64]) -> NDArray[np.int64]:
    """round-half-even(magnitude * 10**dec) of the EXACT product, like C's `%.{d}f`.

    With dec = 0 there is no product: `rint` is exact. Otherwise the rounded product p
    carries an error e (p + e is exact, Dekker's two-product, no FMA needed), and the
    rounding direction is the sign of (p - (floor(p) + 1/2)) + e, exact near a tie."""
    result = np.rint(magnitude).astype(np.int64)
    scaled_cells = np.flatnonzero(dec > 0)
    if scaled_cells.size == 0:
        return result
    a = magnitude[scaled_cells]
    b = _POW10[dec[scaled_cells]].astype(np.float64)
    p = a * b
    a_hi, a_lo = _split(a)
    b_hi, b_lo = _split(b)
    e = ((a_hi * b_hi - p) + a_hi * b_lo + a_lo * b_hi) + a_lo * b_lo
    floor = np.floor(p)
    above = (p - (floor + 0.5)) + e
    up = (above > 0) | ((above == 0) & (np.fmod(floor, 2) == 1))
    result[scaled_cells] = (floor + up).astype(np.int64)
    return result


def _split(x: NDArray[np.float64]) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Veltkamp split: x = hi + lo, each with at most 26 significant bits."""
    c = 134217729.0 * x  # 2**27 + 1
    hi = c - (c - x)
    return hi, x - hi


class _Kinds:
    """Classification of every cell and the bytes each one prints as."""

    def __init__(
        self,
        flat: NDArray[np.float64],
        dec: NDArray[np.int64],
        not_applicable: NDArray[np.bool_] | None,
    ) -> None:
        self.size = flat.size
        finite = np.isfinite(flat)
        normal_mask = finite & (np.abs(flat) >= ZERO)
        self.special: dict[bytes, NDArray[np.intp]] = {}
        if not_applicable is not None and not_applicable.any():
            na = np.ascontiguousarray(not_applicable).ravel()
            self.special[_SPECIAL["N/A"]] = np.flatnonzero(na)
            normal_mask &= ~na
            finite = finite | na
        if not finite.all():
            odd = np.flatnonzero(~finite)
            for token, pick in (
                (_SPECIAL["NaN"], np.isnan(flat[odd])),
                (_SPECIAL["+inf"], flat[odd] == np.inf),
                (_SPECIAL["-inf"], flat[odd] == -np.inf),
            ):
                self.special[token] = odd[pick]
        normal = np.flatnonzero(normal_mask)
        magnitude = np.abs(flat[normal])
        d = dec[normal]
        huge = magnitude >= _EXACT_LIMIT / _POW10[d].astype(np.float64)
        self.fallback: dict[int, bytes] = {
            int(i): (b"%.*f" % (int(k), float(flat[i])))
            for i, k in zip(normal[huge].tolist(), d[huge].tolist(), strict=True)
        }
        if huge.any():
            normal, magnitude, d = normal[~huge], magnitude[~huge], d[~huge]
        self.normal = normal
        self.dec = d
        rounded = _round_scaled(magnitude, d)
        self.int_part, self.frac_part = np.divmod(rounded, _POW10[d])
        self.negative = flat[normal] < 0
        self.int_digits = np.maximum(1, np.searchsorted(_POW10, self.int_part, side="right"))

    def token_lengths(self) -> NDArray[np.int64]:
        lengths = np.ones(self.size, dtype=np.int64)
        for token, cells in self.special.items():
            lengths[cells] = len(token)
        for cell, text in self.fallback.items():
            lengths[cell] = len(text)
        lengths[self.normal] = (
            self.negative + self.int_digits + np.where(self.dec > 0, self.dec + 1, 0)
        )
        return lengths

    def scatter(self, out: NDArray[np.uint8], starts: NDArray[np.int64]) -> None:
        out[starts] = _ZERO_CHAR  # every cell not overwritten below is a plain `0`
        for token, cells in self.special.items():
            for j, char in enumerate(token):
                out[starts[cells] + j] = char
        for cell, text in self.fallback.items():
            out[starts[cell] : starts[cell] + len(text)] = np.frombuffer(text, np.uint8)
        begin = starts[self.normal]
        out[begin[self.negative]] = _MINUS
        last_int = begin + self.negative + self.int_digits - 1
        pos, rest = last_int, self.int_part
        while pos.size:
            out[pos] = _ZERO_CHAR + rest % 10
            rest = rest // 10
            more = rest > 0
            pos, rest = pos[more] - 1, rest[more]
        with_fraction = self.dec > 0
        dot = last_int[with_fraction] + 1
        out[dot] = _DOT
        frac, places = self.frac_part[with_fraction], self.dec[with_fraction]
        for k in range(1, int(places.max(initial=0)) + 1):
            has = places >= k
            out[dot[has] + k] = _ZERO_CHAR + (frac[has] // _POW10[places[has] - k]) % 10
