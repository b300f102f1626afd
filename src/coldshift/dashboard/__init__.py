"""The operator's dashboard: server-rendered pages over the query service (``/dashboard``).

Templates and the one script are package files: nothing is built and nothing is fetched from
elsewhere. It reads through ``services.queries`` only and changes nothing in the region.
"""

from __future__ import annotations

from starlette.routing import BaseRoute

from coldshift.dashboard.routes import PREFIX, DashboardPages
from coldshift.dashboard.sessions import Sessions
from coldshift.dashboard.views import Dashboard, StepNames
from coldshift.dashboard.what_if import AskWhatIf
from coldshift.domain.catalog import Catalog
from coldshift.services.queries import Queries


def dashboard_routes(
    queries: Queries, catalog: Catalog, step_names: StepNames, what_if: AskWhatIf | None = None
) -> list[BaseRoute]:
    pages = DashboardPages(Dashboard(queries, catalog, step_names), Sessions(catalog), what_if)
    return pages.routes()


__all__ = ["PREFIX", "dashboard_routes"]
