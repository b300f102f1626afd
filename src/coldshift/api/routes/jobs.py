"""GET /v1/{project_id}/jobs/{job_id}, and the job listing GET /v1/{project_id}/jobs (a
coldshift extension: Huawei's ECS API has no job listing)."""

from __future__ import annotations

from urllib.parse import urlencode

from fastapi import APIRouter, Request
from fastapi.responses import Response

from coldshift.api import openapi as doc
from coldshift.api import response_models as r
from coldshift.api.deps import base_url, queries_of
from coldshift.api.errors import Family
from coldshift.api.parsing import query_int, query_str
from coldshift.api.responses import JsonResponse
from coldshift.api.views.jobs import job_view
from coldshift.domain.errors import BadRequest
from coldshift.jobs.model import JobStatus
from coldshift.services.queries import JobColumns

router = APIRouter()

JOBS_LIMIT_DEFAULT, JOBS_LIMIT_MAX = 50, 1000
_STATUSES = [s.value for s in JobStatus]


@router.get(
    "/v1/{project_id}/jobs",
    **doc.operation(
        Family.ECS,
        {200: r.JobList},
        parameters=[
            doc.limit_query(JOBS_LIMIT_MAX),
            # As the v1.1 server listing's: ``marker=`` names no job (400), it is not absent.
            doc.query(
                "marker", {"type": "string"}, "a job id: the jobs after it", empty_is_absent=False
            ),
            doc.query("status", {"enum": _STATUSES}),
            doc.query("job_type", {"type": "string"}, "e.g. migrateServer"),
        ],
    ),
)
def list_jobs(request: Request, project_id: str) -> Response:
    """The project's top-level jobs, newest first, each as GET job shows it; paged by marker
    as the v1.1 server listing is (``jobs_links`` holds the next page's link)."""
    limit = query_int(request, "limit", JOBS_LIMIT_DEFAULT, 1, JOBS_LIMIT_MAX)
    status = query_str(request, "status")
    if status is not None and status not in _STATUSES:
        raise BadRequest(f"query parameter status must be one of {', '.join(_STATUSES)}")
    job_type = query_str(request, "job_type")
    marker = request.query_params.get("marker")
    where = JobColumns(JobStatus(status) if status else None, job_type)
    page = queries_of(request).job_page(project_id, where, limit=limit, after=marker)
    links = []
    if page.more and page.jobs:
        wanted = {"limit": limit, "status": status, "job_type": job_type}
        query = {k: v for k, v in wanted.items() if v is not None}
        query["marker"] = page.jobs[-1][0].id
        href = f"{base_url(request)}/v1/{project_id}/jobs?{urlencode(query)}"
        links.append({"rel": "next", "href": href})
    return JsonResponse(
        {
            "jobs": [job_view(job, children) for job, children in page.jobs],
            "jobs_links": links,
            "request_id": request.state.request_id,
        }
    )


@router.get("/v1/{project_id}/jobs/{job_id}", **doc.operation(Family.ECS, {200: r.Job}))
def show_job(request: Request, project_id: str, job_id: str) -> Response:
    """Another project's job answers exactly like an unknown one (400 Common.0011)."""
    job, children = queries_of(request).job(project_id, job_id)
    return JsonResponse(job_view(job, children))
