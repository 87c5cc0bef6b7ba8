"""The real Antares 8.8.10 runs of the shared material, unzipped once per session.

Import the fixture where it is needed (`from tests.helpers.real_outputs import
real_outputs`); it skips, with the reason, when the shared material is absent.
"""

from __future__ import annotations

import zipfile
from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def real_outputs(shared_antares: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`real-outputs/*.zip` (and `failures/*.zip`) unzipped: `<dest>/<zip stem>/<run>/`."""
    source = shared_antares / "real-outputs"
    dest = tmp_path_factory.mktemp("real-outputs")
    for archive in sorted([*source.glob("*.zip"), *source.glob("failures/*.zip")]):
        with zipfile.ZipFile(archive) as zf:
            zf.extractall(dest / archive.stem)
    return dest


def run_folder(real_outputs: Path, name: str) -> Path:
    """The single run folder inside an unzipped real output (`ntc-full` -> its run dir)."""
    (folder,) = [p for p in (real_outputs / name).iterdir() if p.is_dir()]
    return folder
