"""The Python code blocks of the project's Markdown documents, for tests that run them
or hold them to the code's own style: what a reader copies must work as written."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import PROJECT_ROOT

_BLOCK = re.compile(r"^```python\n(.*?)^```$", re.MULTILINE | re.DOTALL)


def documents() -> list[Path]:
    return [PROJECT_ROOT / "README.md", *sorted((PROJECT_ROOT / "docs").glob("*.md"))]


def python_blocks(document: Path) -> list[str]:
    return _BLOCK.findall(document.read_text(encoding="utf-8"))


def python_block_defining(name: str) -> str:
    """The one block, in any document, that defines the function `name`."""
    found = [
        block
        for document in documents()
        for block in python_blocks(document)
        if re.search(rf"^def {re.escape(name)}\(", block, re.MULTILINE)
    ]
    if len(found) != 1:
        raise LookupError(f"{len(found)} documented blocks define {name}(), expected one")
    return found[0]
