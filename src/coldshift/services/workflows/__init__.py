"""The workflows that jobs run, and the registry that names them."""

from __future__ import annotations

from coldshift.domain.codes import Code
from coldshift.jobs.workflow import FailureCodes, WorkflowRegistry
from coldshift.services.context import Region
from coldshift.services.workflows.cold_migration import cold_migration_workflow
from coldshift.services.workflows.create_server import create_server_workflow
from coldshift.services.workflows.power import (
    delete_server_workflow,
    reboot_server_workflow,
    start_server_workflow,
    stop_server_workflow,
)

#: the codes the job engine gives the jobs it fails itself
ENGINE_CODES = FailureCodes(
    internal=Code.SYSTEM_ERROR,
    interrupted=Code.INTERRUPTED,
    unknown_type=Code.UNKNOWN_JOB_TYPE,
)


def build_registry(region: Region) -> WorkflowRegistry:
    registry = WorkflowRegistry(ENGINE_CODES)
    for build in (
        create_server_workflow,
        start_server_workflow,
        stop_server_workflow,
        reboot_server_workflow,
        delete_server_workflow,
        cold_migration_workflow,
    ):
        registry.register(build(region))
    return registry


__all__ = ["ENGINE_CODES", "build_registry"]
