"""Schema migrations: Alembic brings a database to the newest revision, and a database
already there is opened without importing Alembic."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory

from winjobs.driver.db import (
    HEAD_REVISION,
    MIGRATIONS_DIR,
    make_engine,
    migrate,
    schema_revision,
)


def _config() -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    return config


def test_the_head_revision_is_alembics() -> None:
    """Adding a migration means moving HEAD_REVISION to it (else a database at the
    previous head would be taken as current and never upgraded)."""
    assert ScriptDirectory.from_config(_config()).get_current_head() == HEAD_REVISION


def test_a_new_database_and_an_older_one_are_brought_to_the_head(tmp_path: Path) -> None:
    fresh = make_engine(f"sqlite:///{tmp_path / 'new.db'}")
    assert schema_revision(fresh) is None
    migrate(fresh)
    assert schema_revision(fresh) == HEAD_REVISION

    older = make_engine(f"sqlite:///{tmp_path / 'old.db'}")
    previous = ScriptDirectory.from_config(_config()).get_revision(HEAD_REVISION).down_revision
    assert isinstance(previous, str)
    config = _config()
    with older.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, previous)
    assert schema_revision(older) == previous
    migrate(older)
    assert schema_revision(older) == HEAD_REVISION
    fresh.dispose()
    older.dispose()


OPEN = """
import sys
from winjobs.driver.db import make_engine, migrate
migrate(make_engine(sys.argv[1]))
print("alembic" in sys.modules)
"""


def test_a_database_at_the_head_is_opened_without_alembic(tmp_path: Path) -> None:
    """What a restarted driver does: a fresh process, the schema already current."""
    url = f"sqlite:///{tmp_path / 'w.db'}"

    def opened() -> str:
        done = subprocess.run(
            [sys.executable, "-c", OPEN, url], capture_output=True, text=True, check=True
        )
        return done.stdout.strip()

    assert opened() == "True"  # a new database: Alembic migrates it
    assert opened() == "False"  # the second start finds it current
