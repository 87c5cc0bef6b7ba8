"""`/tasks/{id}/...`: the reports of a running attempt (heartbeat, fail, complete,
complete-shared).

Every report carries the attempt number it was given (the fencing token); a report from
an attempt that no longer holds the task gets 409 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response

from winjobs.antares.zipstream import ZipStreamCheck
from winjobs.driver.api.deps import (
    WORKER_ID_PARAMETER,
    DispatchDep,
    IdPath,
    WorkerId,
    json_body,
    parse_number,
    worker_body_doc,
    worker_call,
)
from winjobs.driver.api.uploads import receive_multipart
from winjobs.driver.errors import Invalid
from winjobs.driver.files import Upload
from winjobs.wire import (
    COMPLETE_OUTPUT_FIELD,
    INT32_MAX,
    Ack,
    Heartbeat,
    HeartbeatReply,
    SharedCompletion,
    TaskFailure,
)

router = APIRouter(tags=["worker protocol"])

#: task outputs up to this size are received in memory, checked there, written once
_IN_MEMORY_OUTPUT = 4 * 1024 * 1024

_COMPLETE_BODY: dict[str, Any] = {
    "parameters": [WORKER_ID_PARAMETER],
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["attempt", COMPLETE_OUTPUT_FIELD],
                    "properties": {
                        "attempt": {"type": "integer", "description": "the fencing token"},
                        "log_tail": {"type": "string"},
                        COMPLETE_OUTPUT_FIELD: {
                            "type": "string",
                            "format": "binary",
                            "description": "zip of the run folder (see wire.py)",
                        },
                    },
                }
            }
        },
    },
}


@router.post(
    "/tasks/{task_id}/heartbeat",
    response_model=HeartbeatReply,
    openapi_extra=worker_body_doc(Heartbeat),
)
async def heartbeat(task_id: IdPath, request: Request) -> Response:
    """Extend the lease and report progress; `cancel=true` means: stop, drop the task."""
    driver, worker_id = await worker_call(request)
    beat = await json_body(request, Heartbeat)
    reply = await driver.dispatch.heartbeat(task_id, worker_id, beat)
    return Response(reply.model_dump_json(), media_type="application/json")


@router.post("/tasks/{task_id}/fail", response_model=Ack)
def fail(task_id: IdPath, failure: TaskFailure, worker_id: WorkerId, dispatch: DispatchDep) -> Ack:
    """The attempt failed (counted) or is given back (`release=true`, not counted)."""
    return dispatch.fail(task_id, worker_id, failure)


def _attempt(fields: dict[str, str]) -> int:
    attempt = parse_number(fields.get("attempt"), INT32_MAX)
    if attempt is None:
        raise Invalid("attempt: the form field `attempt` (a whole number) is required")
    return attempt


@router.post("/tasks/{task_id}/complete", response_model=Ack, openapi_extra=_COMPLETE_BODY)
async def complete(task_id: IdPath, request: Request) -> Response:
    """Upload the attempt's run folder (zip, streamed); it is verified before it counts."""
    driver, worker_id = await worker_call(request)
    dispatch, settings = driver.dispatch, driver.settings

    async def check(fields: dict[str, str]) -> None:
        await dispatch.check_report(task_id, worker_id, _attempt(fields))

    declared = parse_number(request.headers.get("content-length"))
    small = declared is not None and declared <= _IN_MEMORY_OUTPUT
    dest = dispatch.files.temp_path("output-upload")
    # a large zip's entries are checked while it arrives (a small one is held in memory)
    streamed = None if small else ZipStreamCheck(max_total_bytes=settings.max_unpacked_bytes)
    received = await receive_multipart(
        request,
        COMPLETE_OUTPUT_FIELD,
        dest,
        settings.max_upload_bytes,
        None if small else check,  # refused before a long upload; a small one is here
        memory_limit=_IN_MEMORY_OUTPUT,
        hashed=False,
        observe=None if streamed is None else streamed.feed,
    )
    try:
        attempt = _attempt(received.fields)
        log_tail = received.fields.get("log_tail", "")
        upload = Upload(
            path=received.path,
            size=received.size,
            data=received.data,
            streamed=None if streamed is None else streamed.entries,
        )
        ack = await dispatch.receive_output(task_id, worker_id, attempt, log_tail, upload)
        return Response(ack.model_dump_json(), media_type="application/json")
    finally:
        if received.data is None:
            received.path.unlink(missing_ok=True)


@router.post(
    "/tasks/{task_id}/complete-shared",
    response_model=Ack,
    openapi_extra=worker_body_doc(SharedCompletion),
)
async def complete_shared(task_id: IdPath, request: Request) -> Response:
    """Shared mode: the run folder stays on the worker's share, at `run_path` as the
    driver reaches it (inside the worker's registered shared output root). It is verified
    there like an upload (and copied in with `collect: copy`) before it counts."""
    driver, worker_id = await worker_call(request)
    completion = await json_body(request, SharedCompletion)
    ack = await driver.dispatch.receive_shared(task_id, worker_id, completion)
    return Response(ack.model_dump_json(), media_type="application/json")
