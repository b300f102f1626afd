"""Huawei's time formats (api.md §1.1)."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache

# A server's times change rarely and are formatted on every view of it: remember them.
_TIMES = 65536


def _dt(epoch: float) -> datetime:
    return datetime.fromtimestamp(epoch, UTC)


@lru_cache(maxsize=_TIMES)
def seconds_z(epoch: float | None) -> str | None:
    """``YYYY-MM-DDThh:mm:ssZ`` (created/updated, DeH allocated_at)."""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%SZ") if epoch is not None else None


@lru_cache(maxsize=_TIMES)
def millis_z(epoch: float | None) -> str:
    """``YYYY-MM-DDThh:mm:ss.fffZ`` (job begin/end); ``""`` while unknown."""
    if epoch is None:
        return ""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%S.") + f"{_dt(epoch).microsecond // 1000:03d}Z"


@lru_cache(maxsize=_TIMES)
def micros(epoch: float | None) -> str | None:
    """``YYYY-MM-DDThh:mm:ss.ffffff`` without zone (launched_at)."""
    return _dt(epoch).strftime("%Y-%m-%dT%H:%M:%S.%f") if epoch is not None else None
