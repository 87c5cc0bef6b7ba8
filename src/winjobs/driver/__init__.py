"""The driver: a FastAPI service that stores jobs, leases tasks and assembles outputs."""
