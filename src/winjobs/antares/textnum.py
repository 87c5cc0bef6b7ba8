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
    n_rows = body.count(b"\n")
    if seps.size != n_rows * fields_per_row:
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
    lengths = ends[:, first_value:] - ends[:, first_value - 1 : -1] - 1
    decimals = _decimals(values, lengths)
    starts = ends[:, first_value - 1 : -1] + 1

    not_applicable: NDArray[np.bool_] | None = None
    nan_rows, nan_cols = np.nonzero(np.isnan(values))
    if nan_rows.size:
        slash = buf[np.minimum(starts[nan_rows, nan_cols] + 1, buf.size - 1)] == _SLASH
        if slash.any():
            not_applicable = np.zeros(values.shape, dtype=bool)
            not_applicable[nan_rows[slash], nan_cols[slash]] = True

    wide_rows, wide_cols = np.nonzero((values == 0.0) & (lengths > 1))
    if wide_rows.size:  # `-0`, `0.00`, `-0.00`: a value too small for its decimals
        values[wide_rows, wide_cols] = np.copysign(PRINTED_ZERO, values[wide_rows, wide_cols])
    return index, values, decimals, not_applicable


#: Below this many bytes numpy's loadtxt is faster (pandas pays ~3 ms per call).
_PANDAS_FROM = 1 << 20


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
    return np.ascontiguousarray(frame.to_numpy(dtype=np.float64))


def _decimals(values: NDArray[np.float64], lengths: NDArray[np.int64]) -> NDArray[np.int64]:
    """Decimals per column, from the first cell of each column not printed `0`: its text
    length minus sign and integer digits (and the point) is the number of decimals."""
    informative = ((lengths > 1) | (values != 0.0)) & np.isfinite(values)
    found = informative.any(axis=0)
    cols = np.flatnonzero(found)
    rows = informative.argmax(axis=0)[cols]
    sample = values[rows, cols]
    integer = np.trunc(np.abs(sample))
    digits = np.maximum(1, np.searchsorted(_FLOAT_POW10, integer, side="right"))
    decimals = np.full(values.shape[1], -1, np.int64)
    decimals[cols] = np.maximum(0, lengths[rows, cols] - np.signbit(sample) - digits - 1)
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


class _Kinds:
    """Classification of every cell and the bytes each one prints as."""

    def __init__(
        self,
        flat: NDArray[np.float64],
        dec: NDArray[np.int64],
        not_applicable: NDArray[np.bool_] | None,
    ) -> None:
        na = (
            np.zeros(flat.size, dtype=bool)
            if not_applicable is None
            else np.ascontiguousarray(not_applicable).ravel()
        )
        magnitude = np.abs(flat)
        self.size = flat.size
        self.special: dict[bytes, NDArray[np.intp]] = {
            _SPECIAL["N/A"]: np.flatnonzero(na),
            _SPECIAL["NaN"]: np.flatnonzero(np.isnan(flat) & ~na),
            _SPECIAL["+inf"]: np.flatnonzero((flat == np.inf) & ~na),
            _SPECIAL["-inf"]: np.flatnonzero((flat == -np.inf) & ~na),
        }
        normal = np.flatnonzero((magnitude >= ZERO) & np.isfinite(flat) & ~na)
        d = dec[normal]
        scaled = magnitude[normal] * _POW10[d].astype(np.float64)
        fraction = scaled - np.floor(scaled)
        slow = (scaled >= _EXACT_LIMIT) | (np.abs(fraction - 0.5) < 1e-6)
        self.fallback: dict[int, bytes] = {
            int(i): (b"%.*f" % (int(k), float(flat[i])))
            for i, k in zip(normal[slow].tolist(), d[slow].tolist(), strict=True)
        }
        fast = ~slow
        self.normal = normal[fast]
        self.dec = d[fast]
        rounded = np.rint(scaled[fast]).astype(np.int64)
        self.int_part, self.frac_part = np.divmod(rounded, _POW10[self.dec])
        self.negative = flat[self.normal] < 0
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
