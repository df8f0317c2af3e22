"""Peak memory of the current process, for tests and benchmarks that prove data is read lazily."""

from __future__ import annotations

import resource


def peak_rss_mb() -> float:
    """Peak resident set size of this process in MiB.

    Reads ``VmHWM`` from /proc/self/status: after fork + exec, ``ru_maxrss`` can still report the parent's larger
    size and hide any growth. Falls back to ``ru_maxrss`` where /proc is unavailable.
    """
    try:
        with open("/proc/self/status") as fh:
            for line in fh:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
