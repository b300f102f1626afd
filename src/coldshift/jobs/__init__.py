"""A generic durable job engine: runs named workflows step by step; knows nothing of servers."""

from __future__ import annotations

from coldshift.jobs.model import Job, JobStatus, NewJob
from coldshift.jobs.ports import JobStore, LeaseLost
from coldshift.jobs.worker import Worker
from coldshift.jobs.workflow import Step, StepContext, StepFailed, Workflow, WorkflowRegistry

__all__ = [
    "Job",
    "JobStatus",
    "JobStore",
    "LeaseLost",
    "NewJob",
    "Step",
    "StepContext",
    "StepFailed",
    "Worker",
    "Workflow",
    "WorkflowRegistry",
]
