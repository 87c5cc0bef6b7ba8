"""The FastAPI application factory, its start-up/shut-down, and `serve` to run it.

`create_app(settings)` builds nothing heavy: the lifespan creates the engine, migrates the
schema, recovers from a previous crash (tmp/ emptied, orphan files removed, leases
extended, interrupted assemblies redone), starts the collector and the sweeper, and keeps
them on `app.state.driver`. No module-level singletons: two apps in one process (tests)
never share a database.
"""

from __future__ import annotations

import logging
import socket
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import anyio.to_thread
import uvicorn
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline

import winjobs
from winjobs.driver.api import include_routers
from winjobs.driver.auth import Authenticator, TokenTable, bearer_authenticator
from winjobs.driver.dashboard.install import install_dashboard
from winjobs.driver.errors import DriverError
from winjobs.driver.runtime import Driver
from winjobs.driver.settings import DriverSettings, require_tokens
from winjobs.driver.shared import check_setup
from winjobs.driver.store import Clock, utcnow
from winjobs.errors import WinjobsError
from winjobs.logfiles import close_logging, log_file, setup_logging
from winjobs.parentwatch import ParentWatch

log = logging.getLogger(__name__)


class DriverStartError(WinjobsError):
    """The driver could not start (port taken, database unreachable...)."""


def create_app(settings: DriverSettings, clock: Clock = utcnow) -> FastAPI:
    """The driver's ASGI app. `clock` is for tests that move time (lease expiry)."""

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        limiter = anyio.to_thread.current_default_thread_limiter()
        limiter.total_tokens = max(limiter.total_tokens, settings.thread_pool_size)
        driver = await anyio.to_thread.run_sync(Driver.start, settings, clock)
        app.state.driver = driver
        try:
            yield
        finally:
            driver.signal.close()  # DriverServer did already; servers other than uvicorn
            await anyio.to_thread.run_sync(driver.stop)

    # /docs and /redoc with Swagger UI's and ReDoc's files served by the driver itself
    # (fastapi-offline ships them): FastAPI's own pages load them from a CDN, and drivers
    # run on company networks without internet.
    app = FastAPIOffline(
        title="winjobs driver",
        version=winjobs.__version__,
        description=(
            "Spreads the Monte-Carlo years of Antares studies over workers. Every endpoint "
            "but /health needs `Authorization: Bearer <token>`."
        ),
        lifespan=lifespan,
        # FastAPI's built-in OpenTelemetry looked up its providers on every request (the
        # driver has its own /metrics); off, it costs nothing
        telemetry={"tracing": False, "metrics": False, "logs": False},
    )
    tokens = TokenTable(settings.tokens)
    authenticators: list[Authenticator] = [bearer_authenticator(tokens)]
    #: the dashboard's sign-in checks a token here, then appends its cookie authenticator
    app.state.tokens = tokens
    app.state.authenticators = authenticators
    app.state.settings = settings

    @app.exception_handler(DriverError)
    async def _driver_error(_request: Request, exc: DriverError) -> JSONResponse:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status_code == 401 else None
        return JSONResponse({"detail": str(exc)}, status_code=exc.status_code, headers=headers)

    @app.exception_handler(RequestValidationError)
    async def _invalid_request(_request: Request, exc: RequestValidationError) -> JSONResponse:
        """FastAPI's 422, without echoing the input: it may be huge, or a number JSON
        cannot carry (`NaN`, `Infinity`: the answer itself would then fail with a 500)."""
        problems = [{"loc": list(e.get("loc", ())), "msg": e.get("msg", "")} for e in exc.errors()]
        return JSONResponse({"detail": problems}, status_code=422)

    include_routers(app)
    install_dashboard(app, settings, clock)
    return app


def uvicorn_config(
    settings: DriverSettings, app: FastAPI | None = None, own_logging: bool = False
) -> uvicorn.Config:
    """`own_logging`: logging is set up already (`serve`): uvicorn's records go through
    it (console and log file) instead of uvicorn's own console handlers."""
    return uvicorn.Config(
        app or create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        log_config=None if own_logging else uvicorn.config.LOGGING_CONFIG,
        access_log=False,
        timeout_graceful_shutdown=5,
    )


class DriverServer(uvicorn.Server):
    """uvicorn, answering the waiting long-poll claims (204) as its shut-down begins.

    uvicorn lets open requests finish for `timeout_graceful_shutdown` before it cancels
    them, and only then runs the app's lifespan shut-down: claims waiting up to 30 s for
    work would hold every stop for those 5 s and end with a CancelledError traceback each.
    """

    async def shutdown(self, sockets: list[socket.socket] | None = None) -> None:
        state = getattr(self.config.app, "state", None)  # None until the lifespan started
        driver: Driver | None = getattr(state, "driver", None)
        if driver is not None:
            driver.signal.close()
        await super().shutdown(sockets)


def serve(settings: DriverSettings, parent_pid: int | None = None) -> None:
    """Run the driver with uvicorn until interrupted (Ctrl-C / SIGTERM), or until the
    process `parent_pid` is gone (`winjobs.parentwatch`: stopped like by SIGTERM).

    Logs go to the console and to `<data_dir>/logs/driver.log` (rotated by size). A
    shared-mode set-up that cannot work (shared folder not writable, no right to make
    symbolic links with collect: link), or no tokens at all, stops it here with the fix
    (ConfigError).
    """
    check_setup(settings)
    require_tokens(settings)
    setup_logging(
        settings.log_level,
        log_file(settings.data_dir, "driver"),
        settings.log_file_max_bytes,
        settings.log_file_backups,
    )
    log.info("driver %s starting, data folder %s", winjobs.__version__, settings.data_dir)
    server = DriverServer(uvicorn_config(settings, own_logging=True))
    watch = None
    if parent_pid is not None:
        watch = ParentWatch(parent_pid, lambda: setattr(server, "should_exit", True)).start()
    try:
        server.run()
    finally:
        if watch is not None:
            watch.stop()
        close_logging()


class RunningDriver:
    """A driver served by uvicorn in a background thread (tests, `winjobs demo`).

    With `port: 0` the system picks a free port; `url` tells which. Use as a context
    manager, or call `stop()`.
    """

    def __init__(self, settings: DriverSettings, app: FastAPI | None = None) -> None:
        self.app = app or create_app(settings)
        self.server = DriverServer(uvicorn_config(settings, self.app))
        self._thread = threading.Thread(target=self.server.run, name="winjobs-driver", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 60
        while not self.server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                self.stop()
                raise DriverStartError(
                    f"the driver did not start on {settings.host}:{settings.port}"
                )
            time.sleep(0.02)
        host, port = self.server.servers[0].sockets[0].getsockname()[:2]
        self.url = f"http://{host}:{port}"

    def stop(self) -> None:
        self.server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> RunningDriver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def start_in_thread(settings: DriverSettings) -> RunningDriver:
    return RunningDriver(settings)
