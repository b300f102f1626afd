"""Identifiers in Huawei's formats: UUIDv4 for servers and DeHs, 32 hex digits for jobs."""

from __future__ import annotations

import re
import uuid

_HEX32 = re.compile(r"^[0-9a-f]{32}$")


def new_uuid() -> str:
    return str(uuid.uuid4())


def new_job_id() -> str:
    return uuid.uuid4().hex


def is_job_id(value: str) -> bool:
    return bool(_HEX32.match(value))
