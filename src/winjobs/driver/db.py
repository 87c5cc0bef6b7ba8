"""Engine construction and schema migrations.

SQLite is tuned for a single driver process with many threads: WAL (readers never block the
writer), `synchronous=NORMAL` (a kill -9 loses nothing; only an OS crash could lose the last
commits), and every write transaction opened with `BEGIN IMMEDIATE` so that two writers
never deadlock upgrading a read lock. `store.Store` also serialises its own writers with a
lock, which hands the database over without SQLite's sleeping busy-handler.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sqlalchemy import Engine, create_engine, event, inspect, text
from sqlalchemy.engine import make_url

#: execution option marking a connection whose transactions only read
READ_ONLY = "winjobs_read_only"

MIGRATIONS_DIR = Path(__file__).with_name("migrations")
#: the newest migration in MIGRATIONS_DIR (a test holds it to Alembic's own head)
HEAD_REVISION = "0014"


def is_sqlite(engine: Engine) -> bool:
    return engine.dialect.name == "sqlite"


def make_engine(url: str, pool_size: int = 20) -> Engine:
    """An engine for `url` (sqlite:///... or postgresql+psycopg://...)."""
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite":
        return create_engine(url, pool_size=pool_size, max_overflow=pool_size, pool_pre_ping=True)
    if parsed.database and parsed.database != ":memory:":
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(
        url,
        pool_size=pool_size,
        max_overflow=pool_size,
        connect_args={"check_same_thread": False, "timeout": 60},
    )
    event.listen(engine, "connect", _sqlite_on_connect)
    event.listen(engine, "begin", _sqlite_on_begin)
    return engine


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # we emit BEGIN ourselves (see _sqlite_on_begin)
    cursor = dbapi_connection.cursor()
    for pragma in (
        "journal_mode=WAL",
        "synchronous=NORMAL",
        "foreign_keys=ON",
        "busy_timeout=60000",
    ):
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_on_begin(connection: Any) -> None:
    read_only = connection.get_execution_options().get(READ_ONLY, False)
    connection.exec_driver_sql("BEGIN DEFERRED" if read_only else "BEGIN IMMEDIATE")


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest revision (Alembic, programmatically). A database
    already there is left alone without importing Alembic: the 12 MB it loads would stay
    in every restarted driver for as long as it runs, on an office PC."""
    if schema_revision(engine) == HEAD_REVISION:
        return
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")


def schema_revision(engine: Engine) -> str | None:
    """The revision the database's schema is at; None for a database never migrated."""
    with engine.execution_options(**{READ_ONLY: True}).connect() as connection:
        if not inspect(connection).has_table("alembic_version"):
            return None
        found = connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
        return None if found is None else str(found)
