"""Keep freed memory in the process instead of handing it back to the kernel after every step.

glibc serves allocations above its mmap threshold (at most 32 MiB) with fresh mappings and
unmaps them on free, so a network whose activations are tens of MB touches new zeroed pages on
every forward and backward pass. Measured with `bench/train_step.py` on the 2-core machine
under load: a spectral training step took 7.4 CPU s with the default allocator and 2.5 s with
mappings off and trimming off (compact: 18.1 vs 11.2 s), the difference being kernel time
spent on page faults. The heap then stays at its peak size, which the process reaches anyway.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging

log = logging.getLogger(__name__)

#: mallopt parameters (glibc's malloc.h).
M_TRIM_THRESHOLD = -1
M_TOP_PAD = -2
M_MMAP_MAX = -4


def keep_freed_memory() -> bool:
    """Turn off glibc's per-allocation mappings and heap trimming for this process; True when
    applied (False off glibc, e.g. on macOS or musl, where nothing changes)."""
    name = ctypes.util.find_library("c")
    if name is None:
        return False
    try:
        libc = ctypes.CDLL(name)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    applied = (
        mallopt(M_MMAP_MAX, 0) == 1
        and mallopt(M_TRIM_THRESHOLD, 2**31 - 1) == 1
        and mallopt(M_TOP_PAD, 256 * 2**20) == 1
    )
    if not applied:
        log.warning("mallopt refused the allocator settings; memory is returned as usual")
    return applied
