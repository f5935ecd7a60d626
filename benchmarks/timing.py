"""What the benchmarks measure besides wall time."""

from __future__ import annotations

import resource


def children_cpu() -> float:
    """User and system seconds of the finished child processes (a busy machine stretches wall
    times; the CPU seconds still compare the work each side does)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime
