"""Domain errors of the driver; `app.py` maps each class to one HTTP status.

The store and the services raise these with a message a user can act on; no module below
the API layer knows about HTTP.
"""

from __future__ import annotations

from winjobs.errors import WinjobsError


class DriverError(WinjobsError):
    """Base class; `status_code` is the HTTP answer the API gives for it."""

    status_code = 400


class NotFound(DriverError):
    status_code = 404


class Conflict(DriverError):
    """The request does not fit the current state (stale attempt, job already finished)."""

    status_code = 409


class Forbidden(DriverError):
    status_code = 403


class Invalid(DriverError):
    """The request is well-formed but its content is refused (bad study, bad years)."""

    status_code = 422


class TooLarge(DriverError):
    status_code = 413


class Unauthorized(DriverError):
    """No credentials, or credentials nobody issued: 401 with `WWW-Authenticate: Bearer`."""

    status_code = 401


class ClientGone(DriverError):
    """The client hung up before its request was read: nobody will read this answer,
    raised only to end the request (no traceback: see `api.uploads`)."""

    status_code = 400


class Unavailable(DriverError):
    """Something the driver needs is out of reach for now (a shared folder, a worker's
    share holding linked years): worth trying again later."""

    status_code = 503
