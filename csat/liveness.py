"""A database connection health check without a round trip, for the API's hot path.

With CONN_HEALTH_CHECKS, Django runs `SELECT 1` on a reused connection before the first
query of each request: a round trip to the server for every API call, a sixth of the call's
time at full load. A connection the server closed (a restart, an idle timeout,
pg_terminate_backend) has data waiting on its socket: the server's FATAL message and the end
of the stream. A healthy idle one has none, since every reply was read to its end. So when
the socket has nothing to read, the connection counts as checked for this request; when it
has, Django's own check runs (and reconnects). What neither check can see (a peer gone
without a word) is the same for both.
"""

from __future__ import annotations

import select
from typing import Any


def connection_check_without_round_trip(wrapper: Any) -> bool:
    """Mark Django's connection `wrapper` as health-checked for this request when its socket
    shows it alive; returns whether it did (else Django's check runs as usual)."""
    raw = wrapper.connection
    if (
        raw is None
        or raw.closed
        or not wrapper.health_check_enabled
        or wrapper.health_check_done
        or wrapper.in_atomic_block
    ):
        return False
    try:
        readable, _writable, _failed = select.select([raw.fileno()], [], [], 0)
    except (OSError, ValueError):
        return False
    if readable:
        return False
    wrapper.health_check_done = True
    return True
