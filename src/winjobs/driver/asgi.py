"""The driver as an importable ASGI app, the way the original tool was started:

    uvicorn winjobs.driver.asgi:app --host 0.0.0.0 --port 8000 --workers 1
    fastapi run src/winjobs/driver/asgi.py      # or any ASGI server

Settings come from the YAML file named by `WINJOBS_DRIVER_CONFIG` (if set) and the
`WINJOBS_DRIVER_*` variables, read when the module is imported, as `winjobs driver` reads
them; a bad setting or a driver without tokens stops the import with the fix.

One process only: the driver keeps in memory what wakes its long-polling claims, the
pool managers' pilot reports and the /metrics counters, so several processes would leave
claims waiting while another process has work and would each count a part. The data
folder's lock (`folderlock`) makes a second process on the same folder (`--workers 2`)
stop at once with that reason instead. `winjobs driver` remains the simplest start: it
also logs to `<data_dir>/logs/driver.log`; under another server, its logging applies.
"""

from __future__ import annotations

import os
from pathlib import Path

from fastapi import FastAPI

from winjobs.driver.app import create_app
from winjobs.driver.folderlock import DataFolderLock
from winjobs.driver.settings import ENV_PREFIX, DriverSettings, load_settings, require_tokens
from winjobs.driver.shared import check_setup


def build_app() -> FastAPI:
    """The app for the settings of this process's environment, its data folder locked."""
    config = os.environ.get(f"{ENV_PREFIX}CONFIG")
    settings: DriverSettings = load_settings(Path(config) if config else None)
    check_setup(settings)
    require_tokens(settings)
    lock = DataFolderLock(settings.data_dir).acquire()
    app = create_app(settings)
    app.state.data_folder_lock = lock  # held as long as the app (the process) lives
    return app


app = build_app()
