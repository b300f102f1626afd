"""The ASGI composition of one built container: the Huawei APIs (and, to come, the dashboard)."""

from __future__ import annotations

from fastapi import FastAPI

from coldshift import bootstrap
from coldshift.api.app import create_app as create_api


def create_app(container: bootstrap.Container) -> FastAPI:
    """The application ``coldshift serve`` runs; stopping it stops the container's jobs."""
    settings = container.settings
    return create_api(
        container.region,
        max_body=settings.max_body_bytes,
        max_skew=settings.signature_skew_seconds,
        on_shutdown=lambda: bootstrap.stop(container),
    )
