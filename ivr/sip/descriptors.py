"""Open files for the call limit: raise the soft RLIMIT_NOFILE to what `max_calls` legs need,
or lower the call limit to what the hard limit allows, and say which.

Each live leg holds its RTP and RTCP sockets, and most a WAV file open (a prompt playing, or the
QA recording of a bridged call); a TCP trunk adds its connection. Under the usual soft limit of
1,024 a line configured for 1,000 calls answered callers and then dropped them: 368
`Too many open files` errors while the log still promised "real call limit 1000".
"""

from __future__ import annotations

import logging
import resource

log = logging.getLogger("ivr.sip.engine")

PER_CALL = 4  # RTP + RTCP sockets, a player's or recorder's WAV file, a TCP connection
RESERVED = 256  # the process itself: store, web console, MQTT, speech models, log files


def needed(max_calls: int) -> int:
    return RESERVED + PER_CALL * max_calls


def fit_call_limit(max_calls: int) -> int:
    """The call limit the open-file limit allows, after raising the soft limit toward the hard one."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    want = needed(max_calls)
    if soft != resource.RLIM_INFINITY and soft < want:
        raised = want if hard == resource.RLIM_INFINITY else min(want, hard)
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (raised, hard))
        except (ValueError, OSError) as exc:
            log.warning("cannot raise the open-file limit from %d to %d: %s", soft, raised, exc)
        else:
            log.info("open-file limit raised from %d to %d for %d calls", soft, raised, max_calls)
            soft = raised
    if soft == resource.RLIM_INFINITY or soft >= want:
        return max_calls
    fits = max(1, (soft - RESERVED) // PER_CALL)
    log.warning(
        "open-file limit %d (hard %s) allows %d concurrent calls, not %d: call limit lowered "
        "(raise it with `ulimit -n %d` or LimitNOFILE=%d)",
        soft,
        "unlimited" if hard == resource.RLIM_INFINITY else hard,
        fits,
        max_calls,
        want,
        want,
    )
    return min(fits, max_calls)
