"""The command line starts without the driver's or the merge's libraries: every
`winjobs jobs`, `winjobs show` (and every CLI call of the suite) pays for what the
command-line module imports, and numpy alone was a sixth of it."""

from __future__ import annotations

import subprocess
import sys

#: imported only by the commands that need them (the driver, the worker, a merge)
HEAVY = ("numpy", "fastapi", "sqlalchemy", "uvicorn", "alembic", "jinja2")


def test_the_command_line_imports_none_of_the_heavy_libraries() -> None:
    probe = f"import sys, winjobs.cli; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    done = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, timeout=120, check=True
    )
    assert done.stdout.split() == []
