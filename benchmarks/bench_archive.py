"""Pack/unpack throughput and peak memory of winjobs.antares.archive vs the zip/unzip CLI.

    uv run python benchmarks/bench_archive.py [--size-mb 500] [--repeat 2] [--workdir DIR]

Generates a study of SIZE MB made of many `input/` text time series (8760 rows, tab
separated integers, like Antares ready-made series), then, in the same run and on the same
files, packs and unpacks it with our code and with `zip -r` / `unzip` (Info-ZIP, at our
deflate level, `archive.ZIP_LEVEL`). Each operation runs in a child process so its peak
RSS is its own. Prints MB/s (uncompressed study bytes per second), the ratio ours/theirs
(target >= 0.8) and our peak memory (target < 100 MB). With --repeat N each timing is the
best of N runs, alternating tools, to damp the noise of a shared machine.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from winjobs.antares.archive import ZIP_LEVEL

HOURS = 8760
COLUMNS = 20
TARGET_RATIO = 0.8
TARGET_MEMORY_MB = 100


def _peak_rss_mb() -> float:
    """Peak resident memory of this process, in MB.

    Linux: VmHWM of /proc/self/status (ru_maxrss would carry over the peak of the parent
    process across fork+exec). Windows: psutil's peak working set.
    """
    status = Path("/proc/self/status")
    if status.exists():
        for line in status.read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    if sys.platform == "win32":
        import psutil

        return float(psutil.Process().memory_info().peak_wset) / 2**20
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / 2**20 if sys.platform == "darwin" else peak / 1024


def _child(operation: str, source: str, target: str) -> None:
    """Run one operation of ours and print its figures as JSON (called in a subprocess)."""
    from winjobs.antares.archive import pack_study
    from winjobs.antares.unpack import unpack_archive

    start = time.perf_counter()
    if operation == "pack":
        pack_study(Path(source), Path(target))
    elif operation == "pack7z":
        pack_study(Path(source), Path(target), sevenzip=Path(shutil.which("7z") or "7z"))
    else:
        unpack_archive(Path(source), Path(target))
    elapsed = time.perf_counter() - start
    print(json.dumps({"seconds": elapsed, "peak_mb": _peak_rss_mb()}))


def _series(seed: int) -> bytes:
    """One time-series file: smooth random walks, like load or wind series."""
    import numpy as np

    rng = np.random.default_rng(seed)
    steps = rng.integers(-40, 41, size=(HOURS, COLUMNS))
    values = np.clip(np.cumsum(steps, axis=0) + rng.integers(500, 5000, size=COLUMNS), 0, 99_999)
    lines = ["\t".join(map(str, row)) for row in values.tolist()]
    return ("\n".join(lines) + "\n").encode()


def generate_study(root: Path, size_mb: int) -> int:
    """A study of about size_mb MB in many input/ files; returns its exact byte count."""
    (root / "settings").mkdir(parents=True)
    (root / "study.antares").write_text("[antares]\nversion = 880\ncaption = bench\n")
    (root / "settings" / "generaldata.ini").write_text("[general]\nmode = Economy\nnbyears = 10\n")
    (root / "output" / "previous-run").mkdir(parents=True)  # excluded by pack_study
    (root / "output" / "previous-run" / "big.txt").write_bytes(b"x" * 1_000_000)
    total = sum(
        p.stat().st_size for p in root.rglob("*") if p.is_file() and "output" not in p.parts
    )
    kinds = ("load", "wind", "solar", "hydro")
    n = 0
    while total < size_mb * 2**20:
        kind = kinds[n % len(kinds)]
        area = f"area{n // len(kinds):04d}"
        folder = root / "input" / kind / "series"
        folder.mkdir(parents=True, exist_ok=True)
        data = _series(n)
        (folder / f"{kind}_{area}.txt").write_bytes(data)
        total += len(data)
        if n % len(kinds) == 0:
            (root / "input" / "areas" / area).mkdir(parents=True)
            ui = f"[ui]\nx = {n}\ny = {n}\n".encode()
            (root / "input" / "areas" / area / "ui.ini").write_bytes(ui)
            total += len(ui)
        n += 1
    return total


def _ours(operation: str, source: Path, target: Path) -> dict[str, float]:
    result = subprocess.run(
        [sys.executable, __file__, "--child", operation, str(source), str(target)],
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(result.stdout.strip().splitlines()[-1])  # type: ignore[no-any-return]


def _timed(args: list[str], cwd: Path | None = None) -> dict[str, float]:
    start = time.perf_counter()
    subprocess.run(args, cwd=cwd, check=True, stdout=subprocess.DEVNULL)
    return {"seconds": time.perf_counter() - start, "peak_mb": float("nan")}


def _clean(*paths: Path) -> None:
    for path in paths:
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()


def run(size_mb: int, repeat: int, workdir: Path) -> dict[str, object]:
    for tool in ("zip", "unzip"):
        if shutil.which(tool) is None:
            sys.exit(f"the {tool} command is needed as the baseline (apt install {tool})")
    study = workdir / "study"
    print(f"generating a {size_mb} MB study in {study} ...", flush=True)
    size = generate_study(study, size_mb)
    files = sum(1 for p in study.rglob("*") if p.is_file() and "output" not in p.parts)
    print(f"  {size / 2**20:.1f} MB in {files} files", flush=True)
    ours_zip, their_zip = workdir / "ours.zip", workdir / "theirs.zip"
    best: dict[str, dict[str, float]] = {}

    def keep(name: str, figures: dict[str, float]) -> None:
        if name not in best or figures["seconds"] < best[name]["seconds"]:
            best[name] = figures

    zip_args = [
        "zip", f"-{ZIP_LEVEL}", "-q", "-r", "-X", str(their_zip), ".", "-x", "output/*", "logs/*"
    ]  # fmt: skip
    for attempt in range(repeat):
        _clean(ours_zip, their_zip)
        order = ["ours", "theirs"] if attempt % 2 == 0 else ["theirs", "ours"]
        for who in order:
            if who == "ours":
                keep("pack ours", _ours("pack", study, ours_zip))
            else:
                keep("pack zip", _timed(zip_args, cwd=study))
        for who in order:
            out = workdir / f"unpacked-{who}"
            _clean(out)
            if who == "ours":
                keep("unpack ours", _ours("unpack", ours_zip, out))
            else:
                keep("unpack unzip", _timed(["unzip", "-q", str(their_zip), "-d", str(out)]))
            unpacked = sum(p.stat().st_size for p in out.rglob("*") if p.is_file())
            assert unpacked == size, f"{who} unpacked {unpacked} bytes, expected {size}"
            _clean(out)
    if shutil.which("7z"):
        seven = workdir / "seven.zip"
        keep("pack ours via 7-Zip", _ours("pack7z", study, seven))
        _clean(seven)
    report: dict[str, object] = {
        "study_mb": size / 2**20,
        "files": files,
        "archive_mb_ours": ours_zip.stat().st_size / 2**20,
        "archive_mb_zip": their_zip.stat().st_size / 2**20,
    }
    for name, figures in best.items():
        report[name] = {
            "seconds": round(figures["seconds"], 2),
            "mb_per_s": round(size / 2**20 / figures["seconds"], 1),
            "peak_mb": round(figures["peak_mb"], 1),
        }
    pack_ratio = best["pack zip"]["seconds"] / best["pack ours"]["seconds"]
    unpack_ratio = best["unpack unzip"]["seconds"] / best["unpack ours"]["seconds"]
    peak = max(best["pack ours"]["peak_mb"], best["unpack ours"]["peak_mb"])
    report["pack_ratio_ours_over_zip"] = round(pack_ratio, 2)
    report["unpack_ratio_ours_over_unzip"] = round(unpack_ratio, 2)
    report["our_peak_mb"] = round(peak, 1)
    report["targets_met"] = bool(
        pack_ratio >= TARGET_RATIO and unpack_ratio >= TARGET_RATIO and peak < TARGET_MEMORY_MB
    )
    return report


def _print(report: dict[str, object]) -> None:
    print(
        f"\nstudy: {report['study_mb']:.0f} MB, {report['files']} files; archives: "
        f"ours {report['archive_mb_ours']:.0f} MB, zip {report['archive_mb_zip']:.0f} MB"
    )
    print(f"{'operation':<22}{'seconds':>9}{'MB/s':>9}{'peak MB':>10}")
    for name, figures in report.items():
        if isinstance(figures, dict):
            print(
                f"{name:<22}{figures['seconds']:>9}{figures['mb_per_s']:>9}{figures['peak_mb']:>10}"
            )
    print(
        f"throughput ours/zip: pack {report['pack_ratio_ours_over_zip']}x, "
        f"unpack {report['unpack_ratio_ours_over_unzip']}x (target >= {TARGET_RATIO}x)"
    )
    print(f"our peak memory: {report['our_peak_mb']} MB (target < {TARGET_MEMORY_MB} MB)")
    print(f"targets met: {report['targets_met']}")
    print(json.dumps(report))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=int, default=500)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--workdir", type=Path, default=None)
    parser.add_argument("--child", nargs=3, metavar=("OP", "SRC", "DEST"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        _child(*args.child)
        return
    if args.workdir is not None:
        args.workdir.mkdir(parents=True, exist_ok=True)
    workdir = Path(tempfile.mkdtemp(prefix="bench-archive-", dir=args.workdir))
    try:
        _print(run(args.size_mb, max(1, args.repeat), workdir))
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
