"""Alembic migration scripts of the driver's database (run by `db.migrate` at start-up)."""
