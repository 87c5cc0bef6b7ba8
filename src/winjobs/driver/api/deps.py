"""FastAPI dependencies as `Annotated` aliases: the driver's services and who is calling.

The identity dependencies are `async def` on purpose: they only hash a token and look it
up, and a sync dependency would cost every request a thread-pool round trip.

The worker protocol's frequent endpoints (claim, heartbeat, complete) take the request
alone and call `worker_call` and `json_body` themselves: the same checks, without
FastAPI's dependency resolution, which cost more than the rest of a claim (measured:
about 120 µs of the 190 µs a claim-shaped route took with five dependencies). Their
OpenAPI description comes from `worker_body_doc`.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import Depends, Header, Path, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, ValidationError

from winjobs.driver.auth import authenticate, require_role
from winjobs.driver.dispatch import Dispatch
from winjobs.driver.errors import Forbidden
from winjobs.driver.jobs import JobService
from winjobs.driver.runtime import Driver
from winjobs.driver.settings import DriverSettings
from winjobs.wire import INT64_MAX, WORKER_ID_HEADER, Identity, Role


def get_driver(request: Request) -> Driver:
    driver: Driver = request.app.state.driver
    return driver


async def _driver(request: Request) -> Driver:
    return get_driver(request)


async def _jobs(request: Request) -> JobService:
    return get_driver(request).jobs


async def _dispatch(request: Request) -> Dispatch:
    return get_driver(request).dispatch


async def _settings(request: Request) -> DriverSettings:
    return get_driver(request).settings


async def current_identity(request: Request) -> Identity:
    return authenticate(request, request.app.state.authenticators)


CurrentIdentity = Annotated[Identity, Depends(current_identity)]


async def _user(identity: CurrentIdentity) -> Identity:
    return require_role(identity, (Role.USER, Role.ADMIN), "this endpoint")


async def _admin(identity: CurrentIdentity) -> Identity:
    return require_role(identity, (Role.ADMIN,), "this action")


async def _worker(identity: CurrentIdentity) -> Identity:
    return require_role(identity, (Role.WORKER,), "the worker protocol")


async def _worker_or_admin(identity: CurrentIdentity) -> Identity:
    return require_role(identity, (Role.WORKER, Role.ADMIN), "downloading a study")


async def _pool_manager(identity: CurrentIdentity) -> Identity:
    return require_role(identity, (Role.WORKER, Role.ADMIN), "a pool manager's view")


def parse_number(text: str | None, maximum: int = INT64_MAX) -> int | None:
    """A whole number in ASCII digits up to `maximum` (what its column holds), else None
    (`²` passes str.isdigit but not int())."""
    text = (text or "").strip()
    if not (text.isascii() and text.isdigit()) or int(text) > maximum:
        return None
    return int(text)


async def _worker_id(
    request: Request,
    identity: Annotated[Identity, Depends(_worker)],
    worker_id: Annotated[str | None, Header(alias=WORKER_ID_HEADER)] = None,
) -> int:
    """The worker id of the header, if the calling token is the one that registered it."""
    return await _owned_worker_id(get_driver(request), identity, worker_id)


async def _owned_worker_id(driver: Driver, identity: Identity, worker_id: str | None) -> int:
    parsed = parse_number(worker_id)
    if parsed is None:
        raise Forbidden(f"send the {WORKER_ID_HEADER} header: register the worker first")
    owners = driver.dispatch.owners
    if owners.known(parsed):
        owners.check(parsed, identity)
    else:  # read once from the database, off the event loop
        await run_in_threadpool(owners.check, parsed, identity)
    return parsed


async def worker_call(request: Request) -> tuple[Driver, int]:
    """The driver and the calling worker's id, checked as `WorkerId` checks them."""
    identity = authenticate(request, request.app.state.authenticators)
    require_role(identity, (Role.WORKER,), "the worker protocol")
    driver = get_driver(request)
    return driver, await _owned_worker_id(driver, identity, request.headers.get(WORKER_ID_HEADER))


Model = TypeVar("Model", bound=BaseModel)


async def json_body(request: Request, model: type[Model]) -> Model:
    """The request's JSON body as `model`; invalid: 422 as FastAPI answers it."""
    raw = await request.body()
    try:
        return model.model_validate_json(raw)
    except ValidationError as exc:
        errors = [{**error, "loc": ("body", *error["loc"])} for error in exc.errors()]
        raise RequestValidationError(errors, body=raw) from None


#: OpenAPI of the worker id header, for the endpoints that read it themselves
WORKER_ID_PARAMETER = {
    "name": WORKER_ID_HEADER,
    "in": "header",
    "required": True,
    "schema": {"type": "string"},
}


def worker_body_doc(model: type[BaseModel]) -> dict[str, Any]:
    """OpenAPI of an endpoint taking `model` as JSON and the worker id header. The models
    it refers to are pointed at the document's components (where the endpoints that take
    them as ordinary bodies put them), not at `$defs` inside this schema: `#/$defs/...`
    would resolve against the document's root, and ReDoc stops rendering on such a ref."""
    schema = model.model_json_schema(ref_template="#/components/schemas/{model}")
    schema.pop("$defs", None)
    return {
        "parameters": [WORKER_ID_PARAMETER],
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": schema}},
        },
    }


#: ids in paths: what a database key can be; a larger number is refused (422), never
#: handed to the database (SQLite cannot even bind it)
IdPath = Annotated[int, Path(ge=0, le=INT64_MAX)]

DriverDep = Annotated[Driver, Depends(_driver)]
JobsDep = Annotated[JobService, Depends(_jobs)]
DispatchDep = Annotated[Dispatch, Depends(_dispatch)]
SettingsDep = Annotated[DriverSettings, Depends(_settings)]
UserIdentity = Annotated[Identity, Depends(_user)]
AdminIdentity = Annotated[Identity, Depends(_admin)]
WorkerIdentity = Annotated[Identity, Depends(_worker)]
StudyReader = Annotated[Identity, Depends(_worker_or_admin)]
#: a pool manager (`winjobs slurm`): the worker token it gives its pilots, or an admin's
PoolManager = Annotated[Identity, Depends(_pool_manager)]
#: the calling worker's registered id (worker token + X-Winjobs-Worker header)
WorkerId = Annotated[int, Depends(_worker_id)]
