"""Job views (api.md §4)."""

from __future__ import annotations

from typing import Any

from coldshift.api.views.timefmt import millis_z
from coldshift.jobs.model import Job


def _common(job: Job) -> dict[str, Any]:
    return {
        "status": job.status.value,
        "job_id": job.id,
        "job_type": job.job_type,
        "begin_time": millis_z(job.begin_time),
        "end_time": millis_z(job.end_time),
        "error_code": job.error_code,
        "fail_reason": job.fail_reason,
    }


def job_view(job: Job, children: list[Job]) -> dict[str, Any]:
    entities: dict[str, Any] = dict(job.entities)
    if children:
        entities["sub_jobs_total"] = len(children)
        entities["sub_jobs"] = [
            {
                **_common(c),
                "entities": {
                    **c.entities,
                    **({"errorcode_message": c.fail_reason} if c.fail_reason else {}),
                },
            }
            for c in children
        ]
    return {**_common(job), "entities": entities}
