"""Packing (deterministic, streaming, links followed) and hostile-archive unpacking."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import stat
import subprocess
import sys
import zipfile
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path

import pytest

from tests.conftest import PROJECT_ROOT, shared_studies
from winjobs.antares.archive import PackResult, find_sevenzip, pack_folder, pack_study, sha256_file
from winjobs.antares.unpack import UnpackLimits, check_archive, unpack_archive
from winjobs.errors import ArchiveError

SEVENZIP = find_sevenzip("7z")
needs_7z = pytest.mark.skipif(
    SEVENZIP is None, reason="7-Zip (7z) is not installed; .ci/run installs p7zip-full"
)
needs_symlinks = pytest.mark.skipif(
    os.name == "nt", reason="creating symbolic links needs privileges on Windows"
)


def _tree(root: Path) -> dict[str, bytes | None]:
    """Relative path -> content (None for folders), for comparing two trees."""
    result: dict[str, bytes | None] = {}
    for path in sorted(root.rglob("*")):
        key = path.relative_to(root).as_posix()
        result[key] = None if path.is_dir() else path.read_bytes()
    return result


def _make_study(root: Path) -> Path:
    study = root / "study"
    (study / "settings").mkdir(parents=True)
    (study / "study.antares").write_text("[antares]\nversion = 880\n")
    (study / "settings" / "generaldata.ini").write_text("[general]\nnbyears = 2\n")
    series = study / "input" / "load" / "series"
    series.mkdir(parents=True)
    for n in range(5):
        (series / f"load_area{n}.txt").write_text("".join(f"{n * i}\t{i}\n" for i in range(400)))
    (study / "input" / "output").mkdir()  # only the TOP-LEVEL output/ is excluded
    (study / "input" / "output" / "keep.txt").write_text("kept")
    (study / "input" / "empty").mkdir()
    (study / "output" / "20240101-0000eco").mkdir(parents=True)
    (study / "output" / "20240101-0000eco" / "big.txt").write_text("run results")
    (study / "logs").mkdir()
    (study / "logs" / "solver.log").write_text("log")
    return study


@pytest.fixture
def study(tmp_path: Path) -> Path:
    return _make_study(tmp_path)


def _expected_packed(study: Path) -> dict[str, bytes | None]:
    return {
        key: value
        for key, value in _tree(study).items()
        if key.split("/")[0] not in ("output", "logs")
    }


# -- packing -------------------------------------------------------------------------------


def test_pack_excludes_output_and_logs_and_round_trips(study: Path, tmp_path: Path) -> None:
    result = pack_study(study, tmp_path / "s.zip")
    assert result == PackResult(
        path=tmp_path / "s.zip",
        sha256=sha256_file(tmp_path / "s.zip"),
        size=(tmp_path / "s.zip").stat().st_size,
        files=8,
    )
    unpack_archive(result.path, tmp_path / "back")
    assert _tree(tmp_path / "back") == _expected_packed(study)
    assert (tmp_path / "back" / "input" / "empty").is_dir()


def test_sha256_file_is_plain_sha256(tmp_path: Path) -> None:
    path = tmp_path / "x.bin"
    path.write_bytes(os.urandom(3_000_000))
    assert sha256_file(path) == hashlib.sha256(path.read_bytes()).hexdigest()


def test_pack_is_deterministic_whatever_the_timestamps_and_location(
    study: Path, tmp_path: Path
) -> None:
    first = pack_study(study, tmp_path / "a.zip")
    moved = tmp_path / "elsewhere" / "other-name"
    shutil.copytree(study, moved)
    for path in moved.rglob("*"):
        os.utime(path, (1_000_000_000, 1_000_000_000))
    (moved / "output" / "new-run").mkdir()  # excluded, so no effect
    assert pack_study(moved, tmp_path / "b.zip").sha256 == first.sha256
    (moved / "input" / "load" / "series" / "load_area1.txt").write_text("changed")
    assert pack_study(moved, tmp_path / "c.zip").sha256 != first.sha256


def test_entries_are_sorted_with_fixed_metadata(study: Path, tmp_path: Path) -> None:
    result = pack_study(study, tmp_path / "s.zip")
    with zipfile.ZipFile(result.path) as archive:
        infos = archive.infolist()
    names = [info.filename for info in infos]
    assert names == sorted(names)
    assert {info.date_time for info in infos} == {(1980, 1, 1, 0, 0, 0)}
    assert {info.create_system for info in infos} == {3}


def test_progress_reports_bytes_up_to_the_total(study: Path, tmp_path: Path) -> None:
    calls: list[tuple[int, int]] = []
    pack_study(study, tmp_path / "s.zip", progress=lambda done, total: calls.append((done, total)))
    total = sum(len(v) for v in _expected_packed(study).values() if v is not None)
    assert calls[0] == (0, total)
    assert calls[-1] == (total, total)
    assert [done for done, _ in calls] == sorted(done for done, _ in calls)


def test_pack_overwrites_dest_atomically_and_fails_cleanly(tmp_path: Path) -> None:
    with pytest.raises(ArchiveError, match="is not a folder"):
        pack_study(tmp_path / "missing", tmp_path / "out" / "s.zip")
    assert not (tmp_path / "out").exists() or list((tmp_path / "out").iterdir()) == []


@needs_symlinks
def test_links_are_followed_and_their_content_packed(tmp_path: Path) -> None:
    outside = tmp_path / "task-results" / "00001"
    outside.mkdir(parents=True)
    (outside / "values-annual.txt").write_text("year 1")
    run = tmp_path / "run"
    (run / "economy" / "mc-ind").mkdir(parents=True)
    (run / "economy" / "mc-ind" / "00001").symlink_to(outside, target_is_directory=True)
    (run / "info.antares-output").write_text("[general]\n")
    (run / "alias.txt").symlink_to(run / "info.antares-output")
    result = pack_folder(run, tmp_path / "run.zip", arcname_root="20240101-0000eco")
    with zipfile.ZipFile(result.path) as archive:
        for info in archive.infolist():
            assert stat.S_IFMT(info.external_attr >> 16) != stat.S_IFLNK
    unpack_archive(result.path, tmp_path / "back")
    root = tmp_path / "back" / "20240101-0000eco"
    assert (root / "economy" / "mc-ind" / "00001" / "values-annual.txt").read_text() == "year 1"
    assert (root / "alias.txt").read_text() == "[general]\n"
    assert not any(p.is_symlink() for p in root.rglob("*"))


@needs_symlinks
def test_link_loops_and_dangling_links_are_errors(tmp_path: Path) -> None:
    folder = tmp_path / "f"
    (folder / "a").mkdir(parents=True)
    (folder / "a" / "loop").symlink_to(folder, target_is_directory=True)
    with pytest.raises(ArchiveError, match="loop"):
        pack_folder(folder, tmp_path / "x.zip")
    (folder / "a" / "loop").unlink()
    (folder / "a" / "dangling").symlink_to(tmp_path / "nowhere")
    with pytest.raises(ArchiveError, match="dangling"):
        pack_folder(folder, tmp_path / "x.zip")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["f"]


@pytest.mark.shared_data
@pytest.mark.parametrize("name", [p.name for p in shared_studies()] or ["absent"])
def test_every_shared_study_round_trips(shared_antares: Path, tmp_path: Path, name: str) -> None:
    source = shared_antares / "studies" / name
    result = pack_study(source, tmp_path / "s.zip")
    unpack_archive(result.path, tmp_path / "back")
    assert _tree(tmp_path / "back") == _expected_packed(source)


@needs_7z
def test_7zip_pack_and_unpack(study: Path, tmp_path: Path) -> None:
    result = pack_study(study, tmp_path / "s.zip", sevenzip=SEVENZIP)
    assert result.sha256 == sha256_file(result.path)
    assert result.files == 8
    unpack_archive(result.path, tmp_path / "builtin")
    assert _tree(tmp_path / "builtin") == _expected_packed(study)
    unpack_archive(result.path, tmp_path / "seven", sevenzip=SEVENZIP)
    assert _tree(tmp_path / "seven") == _expected_packed(study)


def test_missing_7zip_falls_back_to_builtin(study: Path, tmp_path: Path) -> None:
    assert find_sevenzip(tmp_path / "no-7z.exe") is None
    assert find_sevenzip(None) is None
    result = pack_study(study, tmp_path / "s.zip", sevenzip=tmp_path / "no-7z.exe")
    assert result.sha256 == pack_study(study, tmp_path / "t.zip").sha256


@pytest.mark.skipif(shutil.which("zip") is None, reason="the zip command is not installed")
def test_unpacks_what_the_zip_command_writes(study: Path, tmp_path: Path) -> None:
    subprocess.run(
        ["zip", "-q", "-r", str(tmp_path / "cli.zip"), "."],
        cwd=study / "input",
        check=True,
    )
    unpack_archive(tmp_path / "cli.zip", tmp_path / "back")
    assert _tree(tmp_path / "back") == _tree(study / "input")


# -- hostile archives ----------------------------------------------------------------------

Entry = tuple[str | zipfile.ZipInfo, bytes]


def _zip(path: Path, entries: list[Entry]) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries:
            archive.writestr(name, data)
    return path


def _symlink_entry(name: str, target: str) -> Entry:
    info = zipfile.ZipInfo(name)
    info.create_system = 3
    info.external_attr = (stat.S_IFLNK | 0o777) << 16
    return info, target.encode()


DEFAULT_LIMITS = UnpackLimits()
UNPACKERS = [
    pytest.param(None, id="builtin"),
    pytest.param("7z", id="7zip", marks=needs_7z),
    pytest.param("check", id="check-only"),
]


@pytest.fixture(params=UNPACKERS)
def unpack(request: pytest.FixtureRequest) -> Callable[..., None]:
    """Each way of taking in an untrusted zip: unpacking it (built in, 7-Zip), or
    checking it where it is (`check_archive`: the same guards, nothing written)."""
    tool = SEVENZIP if request.param == "7z" else None

    def run(archive: Path, dest: Path, limits: UnpackLimits = DEFAULT_LIMITS) -> None:
        if request.param == "check":
            with archive.open("rb") as handle:
                check_archive(handle, archive.stat().st_size, archive.name, limits=limits).close()
            return
        unpack_archive(archive, dest, limits=limits, sevenzip=tool)

    return run


def _assert_rejected(
    unpack: Callable[..., None],
    tmp_path: Path,
    entries: list[Entry],
    match: str,
    limits: UnpackLimits = DEFAULT_LIMITS,
) -> None:
    archive = _zip(tmp_path / "hostile.zip", entries)
    target = tmp_path / "place" / "dest"
    target.parent.mkdir()
    with pytest.raises(ArchiveError, match=match):
        unpack(archive, target, limits)
    assert list(target.parent.iterdir()) == []  # nothing half-written, no temp folder
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.zip", "place"]


@pytest.mark.parametrize(
    ("name", "match"),
    [
        ("../evil.txt", r"'\.\.'"),
        ("a/../../evil.txt", r"'\.\.'"),
        ("a\\..\\..\\evil.txt", r"'\.\.'"),
        ("/etc/evil.txt", "absolute"),
        ("\\windows\\evil.txt", "absolute"),
        ("C:/evil.txt", "drive letter"),
        ("c:evil.txt", "drive letter"),
        ("a/file.txt:stream", "Windows"),
        ("a/aux.txt", "reserved"),
        ("a/trailing.", "Windows"),
    ],
)
def test_unsafe_names_are_rejected(
    unpack: Callable[..., None], tmp_path: Path, name: str, match: str
) -> None:
    _assert_rejected(unpack, tmp_path, [("ok.txt", b"fine"), (name, b"evil")], match)


def test_symlink_entries_are_rejected(unpack: Callable[..., None], tmp_path: Path) -> None:
    entries = [("ok.txt", b"fine"), _symlink_entry("link", "/etc/passwd")]
    _assert_rejected(unpack, tmp_path, entries, "symbolic link")


def test_bomb_by_ratio_is_rejected(unpack: Callable[..., None], tmp_path: Path) -> None:
    _assert_rejected(unpack, tmp_path, [("zeros.txt", bytes(20_000_000))], "compression ratio")


def test_bomb_by_total_size_is_rejected(unpack: Callable[..., None], tmp_path: Path) -> None:
    entries: list[Entry] = [(f"f{n}.bin", os.urandom(600)) for n in range(3)]
    _assert_rejected(
        unpack, tmp_path, entries, "over the limit", UnpackLimits(max_total_bytes=1500)
    )


def test_too_many_files_is_rejected(unpack: Callable[..., None], tmp_path: Path) -> None:
    entries: list[Entry] = [(f"f{n}.txt", b"x") for n in range(11)]
    _assert_rejected(unpack, tmp_path, entries, "too many entries", UnpackLimits(max_files=10))


@pytest.mark.parametrize(
    "names", [["a.txt", "a.txt"], ["dir/A.txt", "dir/a.txt"], ["x", "x/y.txt"]]
)
def test_colliding_entries_are_rejected(
    unpack: Callable[..., None], tmp_path: Path, names: list[str]
) -> None:
    with (
        pytest.warns(UserWarning, match="Duplicate name") if names[0] == names[1] else nullcontext()
    ):
        entries: list[Entry] = [(name, b"data") for name in names]
        archive = _zip(tmp_path / "hostile.zip", entries)
    with pytest.raises(ArchiveError, match="collides"):
        unpack(archive, tmp_path / "dest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hostile.zip"]


def test_encrypted_entries_are_rejected(tmp_path: Path) -> None:
    archive = _zip(tmp_path / "enc.zip", [("secret.txt", b"x" * 100)])
    data = bytearray(archive.read_bytes())
    # set the "encrypted" bit in the central directory's general purpose flags
    central = data.rfind(b"PK\x01\x02")
    data[central + 8] |= 0x01
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match="encrypted"):
        unpack_archive(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def _good_archive(tmp_path: Path) -> Path:
    study = _make_study(tmp_path / "src")
    return pack_study(study, tmp_path / "good.zip").path


@pytest.mark.parametrize("keep", [0.5, 0.9, -10])
def test_truncated_zip_is_rejected(
    unpack: Callable[..., None], tmp_path: Path, keep: float
) -> None:
    archive = _good_archive(tmp_path)
    data = archive.read_bytes()
    cut = int(len(data) * keep) if keep > 0 else len(data) + int(keep)
    archive.write_bytes(data[:cut])
    with pytest.raises(ArchiveError):
        unpack(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".dest")]


@pytest.mark.parametrize("stored", [False, True])
def test_corrupt_data_is_rejected_and_nothing_remains(
    unpack: Callable[..., None], tmp_path: Path, stored: bool
) -> None:
    """A flipped byte inside an entry's data (deflated: the inflate or the CRC fails;
    stored: only the CRC can tell) is refused, with nothing left behind."""
    if stored:
        archive = tmp_path / "good.zip"
        with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as opened:
            opened.writestr("run/values.txt", os.urandom(5000))
        (tmp_path / "src").mkdir()
    else:
        archive = _good_archive(tmp_path)
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as opened:
        info = max(opened.infolist(), key=lambda i: i.compress_size)
    data[info.header_offset + 30 + len(info.filename) + 5] ^= 0xFF  # inside the entry's data
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError, match=r"damaged|CRC|Data Error"):
        unpack(archive, tmp_path / "dest")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["good.zip", "src"]


def test_lying_sizes_are_caught(unpack: Callable[..., None], tmp_path: Path) -> None:
    """A central directory that under-declares a file's size: zipfile stops at the declared
    size and the CRC check fails, so the bytes beyond are never written."""
    archive = _zip(tmp_path / "liar.zip", [("data.txt", b"0123456789" * 1000)])
    data = bytearray(archive.read_bytes())
    central = data.rfind(b"PK\x01\x02")
    data[central + 24 : central + 28] = (10).to_bytes(4, "little")  # uncompressed size
    archive.write_bytes(bytes(data))
    with pytest.raises(ArchiveError):
        unpack(archive, tmp_path / "dest")
    assert not (tmp_path / "dest").exists()


def test_not_a_zip(tmp_path: Path) -> None:
    path = tmp_path / "x.zip"
    path.write_text("hello, I am not a zip")
    with pytest.raises(ArchiveError, match="not a zip"):
        unpack_archive(path, tmp_path / "dest")
    with pytest.raises(ArchiveError, match="cannot read"):
        unpack_archive(tmp_path / "missing.zip", tmp_path / "dest")


def test_dest_must_not_exist(tmp_path: Path) -> None:
    archive = _good_archive(tmp_path)
    (tmp_path / "dest").mkdir()
    (tmp_path / "dest" / "mine.txt").write_text("precious")
    with pytest.raises(ArchiveError, match="already exists"):
        unpack_archive(archive, tmp_path / "dest")
    assert _tree(tmp_path / "dest") == {"mine.txt": b"precious"}


@pytest.mark.slow
@pytest.mark.skipif(
    shutil.which("zip") is None or shutil.which("unzip") is None,
    reason="the benchmark compares with the zip/unzip commands, not installed here",
)
def test_benchmark_script_runs_end_to_end(tmp_path: Path) -> None:
    """Smoke test of benchmarks/bench_archive.py on a tiny study (figures not checked)."""
    result = subprocess.run(
        [sys.executable, str(PROJECT_ROOT / "benchmarks" / "bench_archive.py"), "--size-mb", "2",
         "--workdir", str(tmp_path)],
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["files"] > 2
    for name in ("pack ours", "pack zip", "unpack ours", "unpack unzip"):
        assert report[name]["mb_per_s"] > 0
    assert 0 < report["our_peak_mb"] < 1000
    assert list(tmp_path.iterdir()) == []  # the work folder is removed


def test_repacking_into_the_study_does_not_pack_the_previous_archive(
    study: Path, tmp_path: Path
) -> None:
    first = pack_study(study, study / "study.zip")
    second = pack_study(study, study / "study.zip")
    assert second.sha256 == first.sha256
    assert second.files == first.files == 8
