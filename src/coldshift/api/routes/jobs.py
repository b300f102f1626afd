"""GET /v1/{project_id}/jobs/{job_id}."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import region_of
from coldshift.api.errors import Family
from coldshift.api.responses import JsonResponse
from coldshift.api.views.jobs import job_view
from coldshift.domain.errors import JobNotFound
from coldshift.domain.ids import is_job_id

router = APIRouter()


@router.get("/v1/{project_id}/jobs/{job_id}", **doc.operation(Family.ECS, {200: r.Job}))
def show_job(request: Request, project_id: str, job_id: str) -> Response:
    """Another project's job answers exactly like an unknown one (400 Common.0011)."""
    tree = region_of(request).store.job_tree(project_id, job_id) if is_job_id(job_id) else None
    if tree is None:
        raise JobNotFound(job_id)
    job, children = tree
    return JsonResponse(job_view(job, children))
