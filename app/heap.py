"""The garbage collector, set for a server whose heap is mostly long-lived objects.

CPython's defaults (a young collection every 700 allocations, a full one every 100 young
ones or so) suit small scripts. A Tribune worker holds the app's machinery for its whole life,
and thousands of sockets for hours (each a few hundred objects: uvicorn's protocol, the
handshake's headers, the connection's task and its frames): every full collection walked all
of it, a pause of half a second at 10,000 sockets, and ingest or a reconnect storm caused
one every few seconds (bench/fanout.py, bench/ingest.py).
"""

import gc

# Container allocations between young collections. Few objects die young by cycle (reference
# counting frees the rest), so collecting less often costs little memory, and each survivor
# is promoted (and later walked again) less often. In one session's runs of bench/fanout.py
# (10,000 sockets, the freeze below in both), a reconnect storm took 25.4 s with CPython's
# thresholds, of which 9.5 s in 22 full collections; 17.3 s with this one, and no full
# collection.
YOUNG_COLLECTION_EVERY = 50_000


def settle_heap() -> None:
    """Call once start-up is done (the app built, or a command about to play).

    Freezes what start-up made (modules, the app, SQLAlchemy's and pydantic's machinery: most
    of the heap), so full collections no longer walk it: it lives as long as the process.
    Frozen objects are still freed by reference counting; only a cycle among them is never
    collected, which costs its memory at most. Frozen once per process: a later call (tests
    start many apps in one process) would also freeze earlier apps' garbage.
    """
    if gc.get_freeze_count() == 0:
        gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_COLLECTION_EVERY, middle, old)
