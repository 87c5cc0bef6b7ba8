"""`/workers`: list them; the admin actions on one (`/workers/{name}/hold|drain|release|
forget`); the worker protocol's register and claim (long-poll)."""

from __future__ import annotations

import time

from fastapi import APIRouter, Request, Response

from winjobs.driver.api.deps import (
    AdminIdentity,
    DispatchDep,
    DriverDep,
    UserIdentity,
    WorkerIdentity,
    json_body,
    worker_body_doc,
    worker_call,
)
from winjobs.wire import (
    ClaimRequest,
    TaskAssignment,
    WorkerAction,
    WorkerInfo,
    WorkerList,
    WorkerRegistered,
    WorkerRegistration,
)

router = APIRouter(tags=["workers"])


@router.get("/workers", response_model=WorkerList)
def list_workers(_identity: UserIdentity, driver: DriverDep) -> WorkerList:
    """Every worker that ever registered: state (held, and why), current task, last seen;
    and the pools of pilot workers in batch systems, their pilots still pending included."""
    return driver.pool.list()


@router.post("/workers/{name}/release", response_model=WorkerInfo)
def release_worker(name: str, admin: AdminIdentity, driver: DriverDep) -> WorkerInfo:
    """Release a held or drained worker (admin): it takes tasks again, its failures in a
    row forgotten. 404 unknown name, 409 neither held nor drained ("not held")."""
    return driver.pool.release(name, admin)


@router.post("/workers/{name}/hold", response_model=WorkerInfo)
def hold_worker(
    name: str, admin: AdminIdentity, driver: DriverDep, action: WorkerAction | None = None
) -> WorkerInfo:
    """Hold a worker (admin), with a reason: it takes no new task (a running one goes
    on) until an admin releases it, restarts included. 404 unknown name, 409 held or
    drained already."""
    return driver.pool.hold(name, action.reason if action else None, admin)


@router.post("/workers/{name}/drain", response_model=WorkerInfo)
def drain_worker(
    name: str, admin: AdminIdentity, driver: DriverDep, action: WorkerAction | None = None
) -> WorkerInfo:
    """Drain a worker (admin): it finishes its task and takes no new one until it
    restarts or an admin releases it. 404 unknown name, 409 held or drained already."""
    return driver.pool.drain(name, action.reason if action else None, admin)


@router.post("/workers/{name}/forget", response_model=WorkerInfo)
def forget_worker(name: str, admin: AdminIdentity, driver: DriverDep) -> WorkerInfo:
    """Forget an offline worker (admin): it leaves the lists and counts until it is seen
    again. Answers the worker as it was last shown. 404 unknown name, 409 online (or
    still holding a task's lease)."""
    return driver.pool.forget(name, admin)


@router.post("/workers/register", response_model=WorkerRegistered)
def register(
    registration: WorkerRegistration, identity: WorkerIdentity, dispatch: DispatchDep
) -> WorkerRegistered:
    """Register (or re-register, by name, with the same token) a worker; the answer's id
    goes in the X-Winjobs-Worker header of every later request, with the same token."""
    return dispatch.register(registration, identity.name)


@router.post(
    "/workers/claim",
    response_model=TaskAssignment,
    responses={204: {"description": "no work appeared within wait_s"}},
    openapi_extra=worker_body_doc(ClaimRequest),
)
async def claim(request: Request) -> Response:
    """Lease a task to the calling worker, waiting up to `wait_s` (long-poll) for one.

    Returns at once when work appears: submissions, re-queued tasks and retries wake
    every waiting claim. Neither the wait nor the database attempt holds a thread of the
    pool: attempts queue for the store's writer, in arrival order.

    Ends with 204 at once, taking nothing, when the driver shuts down or the worker sends
    a draining claim (how a stopping worker ends the long-poll it has pending) or a paused
    one (its owner's policy lets it take no work now; it also keeps the worker online and
    its policy state current). A claim whose worker hung up takes nothing either, when
    work next wakes it.
    """
    driver, worker_id = await worker_call(request)
    claim_request = await json_body(request, ClaimRequest)
    dispatch, signal = driver.dispatch, driver.signal
    deadline = time.monotonic() + min(claim_request.wait_s, driver.settings.claim_max_wait_s)
    if not claim_request.takes_work:  # draining, or paused by its owner's policy
        signal.end_claims(worker_id)
    ended = signal.ended(worker_id)
    while not ended():
        generation = signal.generation
        assignment = await dispatch.claim_once(worker_id, claim_request)
        if assignment is not None:
            dispatch.claims.count_result(assigned=True)
            return Response(assignment.model_dump_json(), media_type="application/json")
        remaining = deadline - time.monotonic()
        if remaining <= 0 or not claim_request.takes_work:
            break
        await signal.wait(generation, remaining, worker_id)
        if await request.is_disconnected():
            break
    dispatch.claims.count_result(assigned=False)
    return Response(status_code=204)
