"""`GET /me`: who a token belongs to (the CLI checks its configuration with it)."""

from __future__ import annotations

from fastapi import APIRouter

from winjobs.driver.api.deps import CurrentIdentity
from winjobs.wire import Identity

router = APIRouter(tags=["identity"])


@router.get("/me", response_model=Identity)
def me(identity: CurrentIdentity) -> Identity:
    return identity
