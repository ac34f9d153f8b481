"""Journey time: the moment the journey reasons in. Real time in production; sped up for
the demo and the benchmarks (a day of journey time a second). The speed-up lives here
and nowhere else."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class JourneyClock:
    """`origin`: when the run started, in real time; `real_now`: the real clock (the
    workflow's, in a run; any function, in a test)."""

    origin: datetime
    speedup: int
    real_now: Callable[[], datetime]

    def now(self) -> datetime:
        """Journey time now."""
        return self.origin + (self.real_now() - self.origin) * self.speedup

    def real(self, duration: timedelta) -> timedelta:
        """How long a stretch of journey time lasts in real time."""
        return duration / self.speedup

    def real_moment(self, moment: datetime) -> datetime:
        """When, in real time, journey time reaches `moment`."""
        return self.real_now() + self.real(moment - self.now())
