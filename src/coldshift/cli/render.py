"""How the operator commands print: bars, tables, the what-if's answer, JSON."""

from __future__ import annotations

import json
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

BAR_WIDTH = 16


def bar(used: int, total: int, unit: str = "") -> str:
    """``used`` of ``total`` as a bar of block characters, then the numbers."""
    filled = round(BAR_WIDTH * used / total) if total else 0
    colour = "red" if total and used >= total else "green"
    blocks = f"[{colour}]{'█' * filled}[/{colour}][dim]{'░' * (BAR_WIDTH - filled)}[/dim]"
    return f"{blocks} {used}/{total}{unit}"


def print_json(console: Console, value: Any) -> None:
    """Stable machine-readable output: sorted keys, one document, no markup."""
    console.print_json(json.dumps(value, sort_keys=True))


def hosts_table(host: dict[str, Any]) -> Table:
    owner = f", project {host['project_id']}" if host.get("project_id") else ""
    title = (
        f"{host['kind'].upper()} {host['id']} ({host['name']}) — "
        f"{host['availability_zone']}, type {host['host_type']}, {host['state']}{owner}"
    )
    table = Table(title=escape(title), title_justify="left", expand=False)
    for column in ("node", "vCPUs used", "memory used (MiB)", "free vCPUs", "free MiB", "servers"):
        table.add_column(column)
    for node in host["numa_nodes"]:
        used_cpu = node["vcpus"] - node["available_vcpus"]
        used_mem = node["memory"] - node["available_memory"]
        names = ", ".join(f"{s['name']} ({s['flavor']}, {s['status']})" for s in node["servers"])
        table.add_row(
            str(node["node"]),
            bar(used_cpu, node["vcpus"]),
            bar(used_mem, node["memory"]),
            str(node["available_vcpus"]),
            str(node["available_memory"]),
            escape(names) or "-",
        )
    return table


def what_if_lines(answer: dict[str, Any]) -> list[str]:
    """The what-if's answer in words (markup-escaped)."""
    target = "the public pool" if answer["target"] == "pool" else f"DeH {answer['target']}"
    head = f"ECS {answer['server_id']} ({answer['flavor']}) → {target}: "
    if answer["fits"]:
        host = answer["host"]
        nodes = ",".join(str(n) for n in host["numa_nodes"])
        return [escape(head + f"fits, on {host['kind']} host {host['host']}, NUMA node(s) {nodes}")]
    lines = [escape(head + "does not fit"), escape(f"  {answer['fail_reason']}")]
    numbers = answer.get("numbers")
    if numbers:
        lines.append(
            escape(
                f"  rule: {answer['rule']}; needs {numbers['vcpus_per_node']} vCPUs and "
                f"{numbers['memory_per_node']} MiB on each of {numbers['nodes_needed']} "
                f"node(s); the largest free node has {numbers['largest_free_vcpus']} vCPUs and "
                f"{numbers['largest_free_memory']} MiB"
            )
        )
    return lines


def advice_lines(answer: dict[str, Any]) -> list[str]:
    advice = answer.get("advice")
    if answer["fits"]:
        return []
    if advice is None:
        return ["no advice: no sequence of at most 3 moves of stopped servers makes room"]
    lines = [f"advice: {len(advice['moves'])} move(s), then it fits"]
    for number, move in enumerate(advice["moves"], 1):
        to = "--to-pool" if move["to"] == "pool" else f"--to {move['to']}"
        nodes = ",".join(str(n) for n in move["numa_nodes"])
        lines.append(
            escape(
                f"  {number}. coldshift migrate {move['server_id']} {to}"
                f"   (from {move['from_host']} to {move['host']}, NUMA node(s) {nodes})"
            )
        )
    then = answer["advice"]["then"]
    nodes = ",".join(str(n) for n in then["numa_nodes"])
    lines.append(escape(f"  then: {then['host']}, NUMA node(s) {nodes}"))
    return lines
