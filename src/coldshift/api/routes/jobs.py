"""GET /v1/{project_id}/jobs/{job_id}."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import queries_of
from coldshift.api.errors import Family
from coldshift.api.responses import JsonResponse
from coldshift.api.views.jobs import job_view

router = APIRouter()


@router.get("/v1/{project_id}/jobs/{job_id}", **doc.operation(Family.ECS, {200: r.Job}))
def show_job(request: Request, project_id: str, job_id: str) -> Response:
    """Another project's job answers exactly like an unknown one (400 Common.0011)."""
    job, children = queries_of(request).job(project_id, job_id)
    return JsonResponse(job_view(job, children))
