"""Log lines in the real solver's format, on stdout and in the log file."""

from __future__ import annotations

import io
import threading
from pathlib import Path

from winjobs.standin.log import COLOR_ENV, Level, SolverLog, format_line, use_colour

STAMP = "2026-11-25 08:24:29"


def test_plain_lines_match_the_real_log() -> None:
    line = format_line(STAMP, "solver", Level.INFO, "MC-Years : [1 .. 5], total: 5", colour=False)
    assert line == "[2026-11-25 08:24:29][solver][infos] MC-Years : [1 .. 5], total: 5"
    fatal = format_line(STAMP, "solver", Level.FATAL, "boom", colour=False)
    assert fatal == "[2026-11-25 08:24:29][solver][fatal] boom"


def test_coloured_tags_match_the_real_terminal_output() -> None:
    # Bytes as in real-outputs/failures/unfeasible-problem-01.stdout.txt.
    fatal = format_line(STAMP, "solver", Level.FATAL, "Year 3 failed", colour=True)
    assert fatal == f"[{STAMP}][solver]\x1b[0;31m[fatal]\x1b[0m Year 3 failed"
    check = format_line(STAMP, "solver", Level.CHECK, "Running", colour=True)
    assert (
        check == f"[{STAMP}][solver]\x1b[1;37m\x1b[1m[check]\x1b[0m \x1b[1;37m\x1b[1mRunning\x1b[0m"
    )
    notice = format_line(STAMP, "solver", Level.NOTICE, "Preparing x...", colour=True)
    assert notice == f"[{STAMP}][solver]\x1b[0;32m[notic]\x1b[0m Preparing x..."
    assert format_line(STAMP, "solver", Level.INFO, "x", colour=True).endswith("[infos] x")


def test_colour_detection_and_override() -> None:
    assert not use_colour(io.StringIO(), {})
    assert use_colour(io.StringIO(), {COLOR_ENV: "always"})
    assert not use_colour(io.StringIO(), {COLOR_ENV: "never"})


def test_file_gets_plain_solver_lines_only(tmp_path: Path) -> None:
    out = io.StringIO()
    log = SolverLog(out, colour=True, clock=lambda: STAMP)
    log.banner("before the file")
    log.open_file(tmp_path / "logs" / "solver-1.log")
    log.fatal("late")
    log.copy_to(tmp_path / "simulation.log")
    log.info("after the copy")
    log.close()
    assert "[noname][infos] before the file" in out.getvalue()
    assert "\x1b[0;31m[fatal]" in out.getvalue()
    file_text = (tmp_path / "logs" / "solver-1.log").read_text()
    assert file_text == f"[{STAMP}][solver][fatal] late\n[{STAMP}][solver][infos] after the copy\n"
    assert (tmp_path / "simulation.log").read_text() == f"[{STAMP}][solver][fatal] late\n"


def test_lines_from_threads_never_interleave() -> None:
    out = io.StringIO()
    log = SolverLog(out, colour=False, clock=lambda: STAMP)

    def shout(n: int) -> None:
        for _ in range(200):
            log.info(f"thread {n} " + "x" * 50)

    threads = [threading.Thread(target=shout, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    lines = out.getvalue().splitlines()
    assert len(lines) == 800
    assert all(line.endswith("x" * 50) and line.count("[infos]") == 1 for line in lines)
