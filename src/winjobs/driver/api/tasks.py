"""`/tasks/{id}/...`: the reports of a running attempt (heartbeat, fail, complete,
complete-shared).

Every report carries the attempt number it was given (the fencing token); a report from
an attempt that no longer holds the task gets 409 and changes nothing.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.concurrency import run_in_threadpool

from winjobs.driver.api.deps import DispatchDep, IdPath, SettingsDep, WorkerId, parse_number
from winjobs.driver.api.uploads import receive_multipart
from winjobs.driver.errors import Invalid
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

_COMPLETE_BODY: dict[str, Any] = {
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
    }
}


@router.post("/tasks/{task_id}/heartbeat", response_model=HeartbeatReply)
def heartbeat(
    task_id: IdPath, beat: Heartbeat, worker_id: WorkerId, dispatch: DispatchDep
) -> HeartbeatReply:
    """Extend the lease and report progress; `cancel=true` means: stop, drop the task."""
    return dispatch.heartbeat(task_id, worker_id, beat)


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
async def complete(
    task_id: IdPath,
    request: Request,
    worker_id: WorkerId,
    dispatch: DispatchDep,
    settings: SettingsDep,
) -> Ack:
    """Upload the attempt's run folder (zip, streamed); it is verified before it counts."""

    async def check(fields: dict[str, str]) -> None:
        attempt = _attempt(fields)
        await run_in_threadpool(dispatch.check_report, task_id, worker_id, attempt)

    dest = dispatch.files.temp_path("output-upload")
    received = await receive_multipart(
        request, COMPLETE_OUTPUT_FIELD, dest, settings.max_upload_bytes, check
    )
    try:
        attempt = _attempt(received.fields)
        log_tail = received.fields.get("log_tail", "")
        return await run_in_threadpool(
            dispatch.receive_output,
            task_id,
            worker_id,
            attempt,
            received.path,
            received.sha256,
            log_tail,
        )
    finally:
        received.path.unlink(missing_ok=True)


@router.post("/tasks/{task_id}/complete-shared", response_model=Ack)
def complete_shared(
    task_id: IdPath, completion: SharedCompletion, worker_id: WorkerId, dispatch: DispatchDep
) -> Ack:
    """Shared mode: the run folder stays on the worker's share, at `run_path` as the
    driver reaches it (inside the worker's registered shared output root). It is verified
    there like an upload (and copied in with `collect: copy`) before it counts."""
    return dispatch.receive_shared(task_id, worker_id, completion)
