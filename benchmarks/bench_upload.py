"""How long a worker waits for the driver's answer after the last byte of a large output.

    uv run python benchmarks/bench_upload.py [--mb 200] [--rate 110] [--repeat 3]

A worker uploads its run folder zipped as it packs it (`archive.pack_folder`: deflated,
each entry's CRC and sizes in a data descriptor after its data). The driver checks every
entry's CRC before it answers. This benchmark packs a run whose mc-ind file holds MB
megabytes of text (hex digits: it deflates to a bit over half), starts a fresh driver
(`winjobs driver`, SQLite) per upload, claims the task, and sends the zip paced at RATE
MB/s (110: a 1 Gbit/s LAN; 0: as fast as loopback goes), 1 MB at a time. It prints the
time to send, the time from the last byte to the answer, and that wait as a share of the
sending time (the baseline, measured in the same upload). Nothing else runs on the
driver meanwhile (`bench_vs_original.py --phases upload` measures an upload under claims).
"""

from __future__ import annotations

import argparse
import binascii
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from benchmarks import contenders
from benchmarks.bench_vs_original import YEARS, _upload_request
from benchmarks.contenders import RunTemplate
from winjobs.antares.archive import pack_folder

PIECE = 1_000_000


def packed_run(workdir: Path, megabytes: int) -> tuple[Path, bytes]:
    """The study's zip and one task's run, packed as a worker packs it."""
    study = contenders.write_study(workdir / "study", YEARS)
    study_zip = workdir / "study.zip"
    study_zip.write_bytes(contenders.zip_study(study))
    run = RunTemplate.make(study, workdir).write_year(0, workdir / "runs")
    values = run / "economy" / "mc-ind" / "00001" / "values-hourly.txt"
    values.parent.mkdir(parents=True, exist_ok=True)
    with values.open("wb") as handle:
        for _ in range(megabytes):
            handle.write(binascii.hexlify(os.urandom(PIECE // 2)))
    packed = pack_folder(run, workdir / "run.zip", arcname_root=run.name).path
    return study_zip, packed.read_bytes()


def upload_once(
    workdir: Path, study_zip: Path, data: bytes, rate_mb_s: float
) -> tuple[float, float]:
    """(seconds to send, seconds from the last byte to the answer)."""
    with contenders.ours(workdir) as running:
        contenders.submit_ours(running.url, study_zip, 1, years="0")
        uploader, (request, head, content, tail) = _upload_request(running, data)
        sock = uploader.sock or uploader._open()
        pieces = [request, head] + [content[i : i + PIECE] for i in range(0, len(content), PIECE)]
        started, sent = time.perf_counter(), 0
        for piece in [*pieces, tail]:
            sock.sendall(piece)
            sent += len(piece)
            if rate_mb_s:
                ahead = sent / (rate_mb_s * 1e6) - (time.perf_counter() - started)
                if ahead > 0:
                    time.sleep(ahead)
        last_byte = time.perf_counter()
        status, answer = uploader._response(sock)
        answered = time.perf_counter()
        uploader.close()
    if status != 200:
        raise SystemExit(f"the upload was refused: HTTP {status} {answer[:300]!r}")
    return last_byte - started, answered - last_byte


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--mb", type=int, default=200, help="size of the run's text (MB)")
    parser.add_argument("--rate", type=float, default=110.0, help="MB/s; 0: unpaced")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="winjobs-upload-") as tmp:
        workdir = Path(tmp)
        study_zip, data = packed_run(workdir, args.mb)
        pace = f"{args.rate:.0f} MB/s" if args.rate else "unpaced"
        print(f"bench_upload: {len(data) / 1e6:.0f} MB zip of {args.mb} MB of text, {pace}")
        waits = []
        for n in range(args.repeat):
            sending, wait = upload_once(workdir / f"driver-{n}", study_zip, data, args.rate)
            waits.append(wait)
            print(
                f"  sent in {sending:.3f} s; answered {wait:.3f} s after the last byte "
                f"({wait / sending:.1%} of the sending time)",
                flush=True,
            )
        print(f"median wait after the last byte: {statistics.median(waits):.3f} s")


if __name__ == "__main__":
    main()
