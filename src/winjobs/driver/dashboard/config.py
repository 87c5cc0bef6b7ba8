"""The dashboard's keys in the driver's configuration (`dashboard:` in the YAML file).

A plain pydantic model with no import of the driver, so that `driver/settings.py` can
nest it without an import cycle.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class DashboardSettings(BaseModel):
    """```yaml
    dashboard:
      session_hours: 12      # a sign-in lasts this long (it survives driver restarts)
      refresh_seconds: 3     # live refresh of the pages; 0 switches it off
      cookie_secure: false   # true when the driver is reached through HTTPS only
      jobs_per_page: 100
    ```"""

    model_config = ConfigDict(extra="forbid", frozen=True)

    session_hours: float = Field(12.0, gt=0, le=24 * 365)
    refresh_seconds: float = Field(3.0, ge=0, le=3600)
    #: the browser then sends the session cookie over HTTPS only; leave false for plain
    #: HTTP on a trusted network (the usual set-up), or the sign-in would never stick
    cookie_secure: bool = False
    jobs_per_page: int = Field(100, ge=1, le=10_000)
