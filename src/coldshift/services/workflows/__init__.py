"""The workflows that jobs run, and the registry that names them."""

from __future__ import annotations

from coldshift.jobs.workflow import WorkflowRegistry
from coldshift.services.context import Region
from coldshift.services.workflows.cold_migration import cold_migration_workflow
from coldshift.services.workflows.create_server import create_server_workflow
from coldshift.services.workflows.lifecycle import (
    delete_server_workflow,
    reboot_server_workflow,
    start_server_workflow,
    stop_server_workflow,
)


def build_registry(region: Region) -> WorkflowRegistry:
    registry = WorkflowRegistry()
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


__all__ = ["build_registry"]
