"""Table definitions (SQLAlchemy Core). Times are UTC epoch seconds (float) on every dialect."""

from __future__ import annotations

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
)

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_name)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

hosts = Table(
    "hosts",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),  # "pool" | "deh"
    Column("name", String(255), nullable=False),
    Column("project_id", String(64), nullable=True),
    Column("availability_zone", String(64), nullable=False),
    Column("host_type", String(64), nullable=False),
    Column("state", String(16), nullable=False),
    Column("auto_placement", String(3), nullable=False, default="on"),
    Column("vcpus", Integer, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    Column("sockets", Integer, nullable=False),
    Column("cores", Integer, nullable=False),
    Column("tags", JSON, nullable=False),
    Column("allocated_at", Float, nullable=False),
    Column("released_at", Float, nullable=True),
    # the physical host under a DeH of a libvirt region; unique: two DeHs never share one
    Column("machine", String(255), nullable=True, unique=True),
    # the drain job (its parent) that fences this DeH: no claim lands on it until that job
    # ends, which clears this in the transaction that ends it (job_store._settle_parent)
    Column("draining_job", String(64), nullable=True),
    # when the row or its NUMA nodes last changed (persistence/generations.py): every write of
    # either sets it, so a process's capacity index re-reads only the hosts changed since its
    # last read (services/pool_capacity.py), by a range of ix_hosts_generation
    Column("generation", BigInteger, nullable=False, server_default="0"),
    Index("ix_hosts_project_kind", "project_id", "kind"),
    Index("ix_hosts_az_type", "availability_zone", "host_type"),
    Index("ix_hosts_generation", "generation"),
)

# A removed host leaves its id here, stamped as a change of the host would be, so that the
# indexes of every process drop it (persistence/generations.py); adding the id again deletes it.
host_removals = Table(
    "host_removals",
    metadata,
    Column("host_id", String(64), primary_key=True),
    Column("kind", String(8), nullable=False),
    Column("availability_zone", String(64), nullable=False),
    Column("generation", BigInteger, nullable=False),
    Index("ix_host_removals_generation", "generation"),
)

numa_nodes = Table(
    "numa_nodes",
    metadata,
    Column("host_id", String(64), ForeignKey("hosts.id"), primary_key=True),
    Column("node_index", Integer, primary_key=True),
    Column("vcpus_total", Integer, nullable=False),
    Column("memory_total", Integer, nullable=False),
    Column("vcpus_free", Integer, nullable=False),
    Column("memory_free", Integer, nullable=False),
)

# One row per (server, host, node) share of a guest. "placed" rows are where the server lives;
# "incoming" rows are a migration's claim on its target, held until the switch-over, when they
# become "placed" and the source's rows become "outgoing" until the source is released.
claims = Table(
    "claims",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("server_id", String(64), nullable=False),
    Column("host_id", String(64), ForeignKey("hosts.id"), nullable=False),
    Column("node_index", Integer, nullable=False),
    Column("vcpus", Integer, nullable=False),
    Column("memory_mb", Integer, nullable=False),
    Column("role", String(16), nullable=False),
    Index("ix_claims_server", "server_id"),
    Index("ix_claims_host", "host_id"),
)

servers = Table(
    "servers",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("flavor_id", String(64), nullable=False),
    Column("availability_zone", String(64), nullable=False),
    Column("vm_state", String(16), nullable=False),
    Column("task_state", String(32), nullable=True),
    Column("power_state", Integer, nullable=False),
    Column("locked", Boolean, nullable=False),
    Column("host_id", String(64), nullable=True),
    Column("tenancy", String(16), nullable=False),
    Column("dedicated_host_id", String(64), nullable=True),
    Column("image_ref", String(64), nullable=False),
    Column("vpc_id", String(64), nullable=False),
    Column("details", JSON, nullable=False),  # wire-only attributes: nics, volumes, metadata...
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("launched_at", Float, nullable=True),
    Column("migrating_to", String(64), nullable=True),
    Column("task_job_id", String(32), nullable=True),
    Index("ix_servers_project_created", "project_id", "created_at"),
    Index("ix_servers_host", "host_id"),
    Index("ix_servers_migrating_to", "migrating_to"),
)

jobs = Table(
    "jobs",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("parent_id", String(32), nullable=True),
    Column("job_type", String(64), nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("status", String(8), nullable=False),
    Column("entities", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("progress", JSON, nullable=False),
    Column("steps_done", Integer, nullable=False, default=0),
    Column("compensating", Boolean, nullable=False, default=False),
    Column("error_code", String(32), nullable=True),
    Column("fail_reason", Text, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("begin_time", Float, nullable=False),
    Column("end_time", Float, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires", Float, nullable=True),
    Column("runnable", Boolean, nullable=False),
    Column("attempts", Integer, nullable=False, default=0),
    Column("claimed_at", Float, nullable=True),  # when a worker last took the job
    Index("ix_jobs_runnable", "runnable", "created_at"),
    Index("ix_jobs_parent", "parent_id"),
    Index("ix_jobs_end_time", "end_time"),
    Index("ix_jobs_listing", "project_id", "parent_id", "created_at", "id"),
)

# What jobs could not clean up (jobs.maintenance): kept apart from ``jobs`` so that it
# outlives the purge of its job, and carries the job as it stood so a step can run again.
maintenance_tasks = Table(
    "maintenance_tasks",
    metadata,
    Column("id", String(32), primary_key=True),
    Column("job_id", String(32), nullable=False),
    Column("project_id", String(64), nullable=False),
    Column("job_type", String(64), nullable=False),
    Column("step", String(64), nullable=False),
    Column("work", String(16), nullable=False),  # "run" | "compensate"
    Column("entities", JSON, nullable=False),
    Column("payload", JSON, nullable=False),
    Column("progress", JSON, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    Column("next_attempt_at", Float, nullable=False),
    Column("done_at", Float, nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_expires", Float, nullable=True),
    Index("ix_maintenance_tasks_due", "done_at", "next_attempt_at"),
)

server_groups = Table(
    "server_groups",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("project_id", String(64), nullable=False),
    Column("name", String(255), nullable=False),
    Column("policy", String(32), nullable=False),
    Column("created_at", Float, nullable=False),
    Index("ix_server_groups_project", "project_id", "created_at"),
)

# A server is in at most one group: its id is the key.
server_group_members = Table(
    "server_group_members",
    metadata,
    Column("server_id", String(64), primary_key=True),
    Column("group_id", String(64), ForeignKey("server_groups.id"), nullable=False),
    Column("joined_at", Float, nullable=False),
    Index("ix_server_group_members_group", "group_id"),
)

# Anti-affinity as a compare-and-set: one row per (group, host) on which a member holds
# claims, inserted in the claim's transaction and deleted with the member's last claim there.
# The key lets one member per host in: of two members racing for a host, the second's insert
# finds the row and its claim rolls back, as a lost capacity claim does.
group_hosts = Table(
    "group_hosts",
    metadata,
    Column("group_id", String(64), ForeignKey("server_groups.id"), primary_key=True),
    Column("host_id", String(64), primary_key=True),
    Column("server_id", String(64), nullable=False),
    Index("ix_group_hosts_server", "server_id"),
)

client_tokens = Table(
    "client_tokens",
    metadata,
    Column("project_id", String(64), primary_key=True),
    Column("token", String(128), primary_key=True),
    Column("body_hash", String(64), nullable=False),
    Column("response", JSON, nullable=False),
    Column("created_at", Float, nullable=False),
)
