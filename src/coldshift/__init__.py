"""coldshift: a local Huawei Cloud ECS/DeH region with durable cold migration."""

from __future__ import annotations

__all__ = ["__version__"]
__version__ = "0.1.0"
