"""The dashboard: server-rendered pages of the driver (jobs, one job, workers) at `/`.

Deliberately empty: `driver/settings.py` imports `dashboard.config`, and an `__init__`
importing the routes would pull the whole FastAPI layer (and `settings` itself) in
first. The app hooks the dashboard in with `dashboard.install.install_dashboard`.
"""
