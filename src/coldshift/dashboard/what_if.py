"""The dashboard's what-if form: would this server's migration fit, where, and if not, why and
what would make room. It asks the same service as the API's what-if (claiming nothing), and
shows hosts as the dashboard does: pool hosts by name to admins only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from coldshift.domain.catalog import Catalog, Project
from coldshift.domain.codes import Code
from coldshift.domain.commands import MigrateServer
from coldshift.domain.errors import ColdshiftError, ServerNotFound
from coldshift.domain.hosts import HostKind
from coldshift.services.queries import Queries
from coldshift.services.what_if import WhatIf

#: the what-if service (``services.what_if.what_if`` bound to the region)
AskWhatIf = Callable[[MigrateServer], WhatIf]
POOL_HOST = "a public pool host"


@dataclass(frozen=True, slots=True)
class WhatIfAnswer:
    server_id: str
    target: str
    fits: bool
    #: where it would go ("host, NUMA node(s) n") or why it would FAIL
    summary: str
    #: the rule and numbers when it does not fit
    numbers: str = ""
    #: the moves after which it fits, in order ("" when none is needed or known)
    advice: tuple[str, ...] = ()
    no_advice: bool = False
    #: a refusal, as the migrate call would answer it
    error: str = ""


def ask(
    ask_service: AskWhatIf,
    queries: Queries,
    catalog: Catalog,
    project: Project,
    server_id: str,
    target: str,
) -> WhatIfAnswer:
    target_id = target.strip() or None
    shown_target = target_id or "the public pool"
    try:
        owner = _owner(queries, catalog, project, server_id.strip())
        answer = ask_service(MigrateServer(owner, server_id.strip(), target_id))
    except ColdshiftError as exc:
        return WhatIfAnswer(server_id, shown_target, False, "", error=str(exc))
    return _answer(answer, shown_target, project.admin)


def _owner(queries: Queries, catalog: Catalog, project: Project, server_id: str) -> str:
    """The server's project: the key's own, or for an admin key whichever holds it."""
    if not project.admin:
        return project.id
    for candidate in catalog.projects:
        try:
            queries.server(candidate.id, server_id)
        except ServerNotFound:
            continue
        return candidate.id
    raise ServerNotFound(server_id)


def _answer(answer: WhatIf, target: str, admin: bool) -> WhatIfAnswer:
    names = {host_id: _name(host.name, host.kind, admin) for host_id, host in answer.hosts.items()}
    if answer.host is not None:
        where = _name(answer.host.name, answer.host.kind, admin)
        nodes = ", ".join(str(n) for n in answer.host.numa_nodes)
        return WhatIfAnswer(
            answer.server.id, target, True, f"fits on {where}, NUMA node(s) {nodes}"
        )
    numbers = answer.closest.describe() if answer.closest is not None else ""
    moves = tuple(
        f"migrate {move.server_id} from {names.get(move.from_host, move.from_host)} to {move.to}"
        for move in (answer.advice.moves if answer.advice else ())
    )
    return WhatIfAnswer(
        answer.server.id,
        target,
        False,
        f"{Code.NO_CAPACITY}: {answer.reason}",
        numbers=numbers,
        advice=moves,
        no_advice=answer.advice is None,
    )


def _name(name: str, kind: HostKind, admin: bool) -> str:
    return name if kind is HostKind.DEH or admin else POOL_HOST
