"""`/studies/{sha256}`: study archives by content hash, with HTTP Range (resumable)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import FileResponse

from winjobs.driver.api.deps import DispatchDep, StudyReader

router = APIRouter(tags=["worker protocol"])


@router.get(
    "/studies/{sha256}",
    response_class=FileResponse,
    responses={200: {"content": {"application/zip": {}}}, 206: {"description": "a range"}},
)
def download_study(sha256: str, _identity: StudyReader, dispatch: DispatchDep) -> FileResponse:
    """The archive whose sha256 is given; send `Range: bytes=N-` to resume a download."""
    return FileResponse(
        dispatch.study_archive(sha256), media_type="application/zip", filename=f"{sha256}.zip"
    )
