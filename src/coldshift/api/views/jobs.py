"""Job views (api.md §4)."""

from __future__ import annotations

from typing import Any

from coldshift.api.views.timefmt import millis_z
from coldshift.domain.job_types import COPIED_BYTES
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


def _entities(job: Job) -> dict[str, Any]:
    """The job's entities, and a copy's progress (coldshift's extension) while it has one."""
    copied = job.progress.get(COPIED_BYTES)
    if copied is None:
        return dict(job.entities)
    return {**job.entities, "bytes_copied": copied[0], "bytes_total": copied[1]}


def job_view(job: Job, children: list[Job]) -> dict[str, Any]:
    entities = _entities(job)
    if children:
        entities["sub_jobs_total"] = len(children)
        entities["sub_jobs"] = [
            {
                **_common(c),
                "entities": {
                    **_entities(c),
                    **({"errorcode_message": c.fail_reason} if c.fail_reason else {}),
                },
            }
            for c in children
        ]
    return {**_common(job), "entities": entities}
