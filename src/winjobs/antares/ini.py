"""Byte-exact reader/writer for the INI dialect of Antares files.

Why our own: `configparser` cannot keep repeated keys (`playlist_year + = 3` once per
year), drops comments and rewrites spacing, and a study handed to the solver must stay
byte-identical except for what we deliberately change.

How the solver reads these files (Antares `IniFile`, 8.8 and 9.x), which this module
follows for every lookup:

- a line is split at its first `[` or `=`: `[name]` opens a section, `key = value` is a
  property; keys and values are trimmed, keys are lower-cased on load;
- `key =` with nothing at all after `=` is dropped by the solver: we keep the line but no
  lookup sees it;
- section names are compared lower-cased but not trimmed (`[ general ]` is not `general`);
- a section may appear several times and a key may repeat: the solver applies every
  property in file order, so for a single-valued setting the LAST occurrence wins. `get`
  returns that one; `get_all` and `items` return every occurrence in file order.

Where we are stricter than the solver, on purpose (a scheduler must not guess): a line that
is none of blank, comment (`;` or `#`), section or property, a property before any section,
an unclosed `[section` and an empty `[]` raise `IniError` with the line number. The solver
would log an error and go on.

Bytes are decoded as UTF-8 with `surrogateescape`, so any byte sequence (Latin-1 captions,
a BOM, CRLF line ends, a missing final newline) survives a round trip unchanged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from typing import NamedTuple

from winjobs.errors import IniError

__all__ = ["IniDocument", "as_bool", "as_uint"]

_ENCODING = "utf-8"
_ERRORS = "surrogateescape"
_BOM = "\ufeff"

#: Values the solver reads as true (Yuni's `to<bool>` on the lower-cased value);
#: anything else, including typos, is false.
_TRUE_WORDS = frozenset({"1", "y", "o", "t", "true", "on", "yes"})


def as_bool(value: str | None) -> bool:
    """Read a boolean exactly as the solver does: `True`, `yes`, `on`, `1`... are true."""
    return value is not None and value.strip().lower() in _TRUE_WORDS


def as_uint(value: str | None) -> int | None:
    """A non-negative decimal integer, or None when the text is not one."""
    if value is None:
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit():
        return None
    return int(text)


class _Line(NamedTuple):
    """One physical line, kept verbatim in `raw` (line end included). A named tuple:
    a frozen dataclass took most of the parse time (every uploaded task output has two
    of these files read)."""

    raw: str
    kind: str  # "section" | "property" | "other" (blank, comment, dropped `key =`)
    name: str = ""  # section name as written between the brackets
    key: str = ""  # trimmed key as written
    value: str = ""  # trimmed value
    value_start: int = 0  # value span inside `raw`, so an edit replaces only the value
    value_end: int = 0

    @property
    def lookup_key(self) -> str:
        return self.key.lower()


def _content(raw: str) -> str:
    """The line without its line end; the solver also stops a line at a stray CR."""
    end = raw.find("\r")
    if end == -1:
        end = raw.find("\n")
    else:  # a CR, and maybe an LF before it
        newline = raw.find("\n", 0, end)
        end = end if newline == -1 else newline
    return raw if end == -1 else raw[:end]


def _parse_line(raw: str, lineno: int, source: str) -> _Line:
    """One line read the solver's way. (Positional `_Line`s and no more passes over the
    text than needed: every uploaded task output has two of these files read, a real
    `parameters.ini` a hundred lines.)"""
    offset = 1 if raw[:1] == _BOM else 0
    content = _content(raw)
    if offset:
        content = content[1:]
    stripped = content.strip()
    if not stripped or stripped[0] in ";#":
        return _Line(raw, "other")
    equals = content.find("=")
    bracket = content.find("[", 0, len(content) if equals == -1 else equals)
    if bracket != -1:
        close = content.find("]", bracket + 1)
        if close == -1:
            raise IniError(f"{source}: line {lineno}: section header without ']': {stripped!r}")
        name = content[bracket + 1 : close]
        if not name:
            raise IniError(f"{source}: line {lineno}: empty section name")
        return _Line(raw, "section", name)
    if equals == -1:
        raise IniError(
            f"{source}: line {lineno}: expected '[section]' or 'key = value', got {stripped!r}"
        )
    after = content[equals + 1 :]
    if not after:
        return _Line(raw, "other")  # `key =`: the solver drops it
    value = after.lstrip(" \t")
    start = offset + equals + 1 + len(after) - len(value)
    value = value.rstrip(" \t")
    key = content[:equals].strip(" \t")
    return _Line(raw, "property", "", key, value, start, start + len(value))


def _split_lines(text: str) -> list[str]:
    """Split after each LF only (not at the other separators `str.splitlines` knows)."""
    parts = text.split("\n")
    lines = [part + "\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])
    return lines


def _check_text(what: str, text: str, forbidden: str) -> None:
    if any(ch in text for ch in "\r\n" + forbidden):
        raise IniError(f"invalid {what} {text!r}: no {forbidden!r} or line break allowed")
    if what == "key" and (not text.strip() or text.strip()[0] in ";#"):
        raise IniError(f"invalid key {text!r}: empty or starting like a comment")


class IniDocument:
    """An Antares INI file as its lines: reads like the solver, writes back byte-exact.

    Edits (`set`, `replace_section`, `remove_section`) rewrite only the lines they are
    about; every other byte is kept as it was read.
    """

    def __init__(self, lines: list[_Line], source: str = "<ini>") -> None:
        self._lines = lines
        self._source = source
        #: (section, key) lower-cased -> the indexes of its properties, in file order;
        #: built at the first look-up, dropped by every edit (`_edited`)
        self._index: dict[tuple[str, str], list[int]] | None = None

    # -- reading -------------------------------------------------------------------------

    @classmethod
    def parse(cls, data: bytes, source: str = "<bytes>") -> IniDocument:
        """Parse bytes; raise IniError (with the line number) on a line we cannot read."""
        if b"\x00" in data:
            raise IniError(f"{source}: binary data (NUL byte), not an INI file")
        text = data.decode(_ENCODING, _ERRORS)
        lines: list[_Line] = []
        in_section = False
        for lineno, raw in enumerate(_split_lines(text), start=1):
            line = _parse_line(raw, lineno, source)
            if line.kind == "section":
                in_section = True
            elif line.kind == "property" and not in_section:
                raise IniError(f"{source}: line {lineno}: 'key = value' before any [section]")
            lines.append(line)
        return cls(lines, source)

    @classmethod
    def read(cls, path: Path) -> IniDocument:
        try:
            data = Path(path).read_bytes()
        except OSError as exc:
            raise IniError(f"cannot read {path}: {exc.strerror or exc}") from exc
        return cls.parse(data, source=str(path))

    def to_bytes(self) -> bytes:
        return "".join(line.raw for line in self._lines).encode(_ENCODING, _ERRORS)

    def write(self, path: Path) -> None:
        """Write atomically (temp file + rename): a crash never leaves half a file."""
        path = Path(path)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(self.to_bytes())
            tmp.replace(path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def copy(self) -> IniDocument:
        return IniDocument(list(self._lines), self._source)

    def sections(self) -> list[str]:
        """Section names as first written, in file order, each once."""
        seen: set[str] = set()
        names: list[str] = []
        for line in self._lines:
            if line.kind == "section" and line.name.lower() not in seen:
                seen.add(line.name.lower())
                names.append(line.name)
        return names

    def has_section(self, section: str) -> bool:
        return any(self._headers(section))

    def entries(self) -> list[tuple[str, str, str]]:
        """Every property as (section name, key, value), in file order: what the solver
        walks when it loads a file."""
        result: list[tuple[str, str, str]] = []
        current = ""
        for line in self._lines:
            if line.kind == "section":
                current = line.name
            elif line.kind == "property":
                result.append((current, line.key, line.value))
        return result

    def items(self, section: str) -> list[tuple[str, str]]:
        """(key, value) of every property of every `section` block, file order, repeats kept.

        Keys come back as written (trimmed); compare them lower-cased like the solver.
        """
        return [(self._lines[i].key, self._lines[i].value) for i in self._property_indexes(section)]

    def get_all(self, section: str, key: str) -> list[str]:
        """Every value of a repeated key, in file order."""
        return [self._lines[i].value for i in self._property_indexes(section, key)]

    def get(self, section: str, key: str, default: str | None = None) -> str | None:
        """The value the solver ends up with: the last occurrence (case-insensitive)."""
        values = self.get_all(section, key)
        return values[-1] if values else default

    # -- editing -------------------------------------------------------------------------

    def set(self, section: str, key: str, value: str) -> None:
        """Set a key's value; only that line changes (or one line is added).

        The last occurrence (the one the solver keeps) is rewritten in place, keeping its
        key spelling and spacing. A missing key is added at the end of the last block of the
        section; a missing section is appended at the end of the file.
        """
        _check_text("section", section, "[]")
        _check_text("key", key, "=[")
        _check_text("value", value, "")
        indexes = self._property_indexes(section, key)
        if indexes:
            index = indexes[-1]
            old = self._lines[index]
            prefix = old.raw[: old.value_start]
            if not value and prefix.endswith("="):
                prefix += " "  # `key =` with nothing after '=' would vanish for the solver
            raw = prefix + value + old.raw[old.value_end :]
            self._lines[index] = _parse_line(raw, index + 1, self._source)
            self._edited()
            return
        headers = self._headers(section)
        if not headers:
            self._append_section(section, [(key, value)])
            return
        at = self._body_end(headers[-1])
        self._insert(at, [f"{key} = {value}"])

    def replace_section(self, section: str, items: list[tuple[str, str]]) -> None:
        """Make `items` the whole content of `section`, touching no other section.

        The first block of the section keeps its place and whatever follows its last
        property (blank lines, comments); its properties and the comments between them are
        replaced; later blocks of the same name are removed.
        A missing section is appended at the end of the file.
        """
        _check_text("section", section, "[]")
        for key, value in items:
            _check_text("key", key, "=[")
            _check_text("value", value, "")
        headers = self._headers(section)
        if not headers:
            self._append_section(section, items)
            return
        for header in reversed(headers[1:]):
            del self._lines[header : self._block_end(header)]
        first = headers[0]
        del self._lines[first + 1 : self._body_end(first)]
        self._insert(first + 1, [f"{key} = {value}" for key, value in items])

    def remove_section(self, section: str) -> bool:
        """Remove every block of `section` (header to next header); False if there was none."""
        headers = self._headers(section)
        for header in reversed(headers):
            del self._lines[header : self._block_end(header)]
        self._edited()
        return bool(headers)

    # -- internals -----------------------------------------------------------------------

    def _headers(self, section: str) -> list[int]:
        wanted = section.lower()
        return [
            i
            for i, line in enumerate(self._lines)
            if line.kind == "section" and line.name.lower() == wanted
        ]

    def _property_indexes(self, section: str, key: str | None = None) -> list[int]:
        wanted_section = section.lower()
        if key is not None:  # one look-up in the index (a read asks a file for many keys)
            return self._lookup_index().get((wanted_section, key.strip(" \t").lower()), [])
        found: list[int] = []
        inside = False
        for i, line in enumerate(self._lines):
            if line.kind == "section":
                inside = line.name.lower() == wanted_section
            elif inside and line.kind == "property":
                found.append(i)
        return found

    def _lookup_index(self) -> dict[tuple[str, str], list[int]]:
        if self._index is None:
            index: dict[tuple[str, str], list[int]] = {}
            section = None
            for i, line in enumerate(self._lines):
                if line.kind == "section":
                    section = line.name.lower()
                elif line.kind == "property" and section is not None:
                    index.setdefault((section, line.lookup_key), []).append(i)
            self._index = index
        return self._index

    def _edited(self) -> None:
        """After any change to the lines: the index is rebuilt at the next look-up."""
        self._index = None

    def _block_end(self, header: int) -> int:
        """Index of the next section header after `header` (or the end of the file)."""
        for i in range(header + 1, len(self._lines)):
            if self._lines[i].kind == "section":
                return i
        return len(self._lines)

    def _body_end(self, header: int) -> int:
        """Where the section's content ends: after its last property. Blank lines and
        comments that follow (usually about the next section) stay where they are."""
        end = self._block_end(header)
        while end > header + 1 and self._lines[end - 1].kind != "property":
            end -= 1
        return end

    def _eol(self) -> str:
        for line in self._lines:
            if line.raw.endswith("\r\n"):
                return "\r\n"
            if line.raw.endswith("\n"):
                return "\n"
        return "\n"

    def _insert(self, at: int, texts: list[str]) -> None:
        eol = self._eol()
        if at > 0 and not self._lines[at - 1].raw.endswith("\n"):
            previous = self._lines[at - 1]
            self._lines[at - 1] = _parse_line(previous.raw + eol, at, self._source)
        new = [_parse_line(text + eol, at + n + 1, self._source) for n, text in enumerate(texts)]
        self._lines[at:at] = new
        self._edited()

    def _append_section(self, section: str, items: list[tuple[str, str]]) -> None:
        """Append `[section]`, its items and a blank line, the way Antares writes sections."""
        texts = [f"[{section}]", *(f"{key} = {value}" for key, value in items), ""]
        if self._lines and self._lines[-1].raw.strip():
            texts.insert(0, "")  # keep a blank line between sections, as Antares does
        self._insert(len(self._lines), texts)
