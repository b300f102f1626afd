"""The workflows that jobs run, and the registry that names them."""

from __future__ import annotations

from coldshift.domain.codes import Code
from coldshift.jobs.workflow import FailureCodes, WorkflowRegistry
from coldshift.services.context import Region
from coldshift.services.workflows.cold_migration import cold_migration_workflow
from coldshift.services.workflows.create_server import create_server_workflow
from coldshift.services.workflows.power import power_workflows
from coldshift.services.workflows.restart_migration import restart_migration_workflow

#: the codes the job engine gives the jobs it fails itself
ENGINE_CODES = FailureCodes(
    internal=Code.SYSTEM_ERROR,
    interrupted=Code.INTERRUPTED,
    unknown_type=Code.UNKNOWN_JOB_TYPE,
)


def build_registry(region: Region) -> WorkflowRegistry:
    registry = WorkflowRegistry(ENGINE_CODES)
    workflows = [
        create_server_workflow(region),
        *power_workflows(region),
        cold_migration_workflow(region),
        restart_migration_workflow(region),
    ]
    for workflow in workflows:
        registry.register(workflow)
    return registry


__all__ = ["ENGINE_CODES", "build_registry"]
