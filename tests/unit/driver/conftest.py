"""Fixtures of the driver's unit tests: an in-process app, a store on each backend."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.unit.driver.helpers import Api, FakeClock, driver_settings
from winjobs.driver.app import create_app
from winjobs.driver.db import make_engine, migrate
from winjobs.driver.store import Store


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def api(tmp_path: Path, clock: FakeClock) -> Iterator[Api]:
    app = create_app(driver_settings(tmp_path / "driver"), clock=clock)
    with TestClient(app) as http:
        yield Api(app=app, http=http, clock=clock)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'winjobs.db'}"
    url: str = request.getfixturevalue("postgres_url")
    return url


@pytest.fixture
def store(database_url: str, clock: FakeClock) -> Iterator[Store]:
    engine = make_engine(database_url, pool_size=10)
    migrate(engine)
    store = Store(engine, clock=clock)
    yield store
    store.close()
    engine.dispose()
