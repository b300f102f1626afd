"""Every job type coldshift records, in one place: Huawei's names, as ``GET job`` shows them.

A request records one top-level job that groups one sub-job per server; each sub-job type has
a workflow (``services/workflows``).
"""

from __future__ import annotations

from enum import StrEnum, unique


@unique
class JobType(StrEnum):
    CREATE_SERVERS = "createServer"
    CREATE_SERVER = "createSingleServer"
    START_SERVERS = "batchStartServers"
    START_SERVER = "startServer"
    STOP_SERVERS = "batchStopServers"
    STOP_SERVER = "stopServer"
    REBOOT_SERVERS = "batchRebootServers"
    REBOOT_SERVER = "rebootServer"
    DELETE_SERVERS = "deleteServers"
    DELETE_SERVER = "deleteServer"
    MIGRATE_SERVER = "migrateServer"
    MIGRATE_ONE_SERVER = "migrateSingleServer"
    #: a drain (coldshift's own): one sub-job per server of the DeH
    DRAIN_DEDICATED_HOST = "drainDedicatedHost"
    #: a drain's sub-job for a running server (--restart): stop, migrate, start again
    RESTART_MIGRATE_SERVER = "restartMigrateServer"


#: the job types that may fence a DeH (services.ports.HostFence): the end of one of them lifts
#: its fence; the end of any other has nothing to lift and does not look
FENCING_JOB_TYPES = frozenset({JobType.DRAIN_DEDICATED_HOST.value})


#: the key of a job's progress under which a migration keeps [bytes copied, bytes total]
#: while its disks are copied; ``GET job`` shows them as the extension entities
#: ``bytes_copied`` and ``bytes_total``
COPIED_BYTES = "copied"
