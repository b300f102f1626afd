"""How often, and how long apart, the engine tries a step again before it gives up."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded tries with exponential backoff.

    A job step that fails with a transient fault (``StepFailed(transient=True)``) is tried
    ``max_attempts`` times in all, ``delay(n)`` seconds after its n-th failure. A maintenance
    task (what a job left to clean up) is tried without bound, ``delay(n)`` apart, so that it
    ends once the host it needs answers again.
    """

    max_attempts: int = 3
    first_delay: float = 0.5
    factor: float = 2.0
    max_delay: float = 300.0

    def __post_init__(self) -> None:
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts must be at least 1, got {self.max_attempts}")
        if self.first_delay < 0 or self.factor < 1 or self.max_delay < self.first_delay:
            raise ValueError("need 0 <= first_delay <= max_delay and factor >= 1")

    def delay(self, failures: int) -> float:
        """Seconds to wait after the ``failures``-th failure (1 for the first)."""
        if failures < 1:
            return 0.0
        # The exponent is bounded so that a task failing for days cannot overflow the float.
        exponent = min(failures - 1, 64)
        return float(min(self.max_delay, self.first_delay * self.factor**exponent))

    def gives_up_after(self, failures: int) -> bool:
        """Whether a step that failed ``failures`` times is not tried again in its job."""
        return failures >= self.max_attempts


#: the default: three tries of a step within its job, a clean-up every 5 minutes at most
DEFAULT_RETRY = RetryPolicy()
