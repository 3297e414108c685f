"""The garbage collector of a long-running `hotpapers run`, set once start-up is done.

Everything made during start-up (modules, the engine, the adapters' clients, the scheduler) lives as long as the
process: `gc.freeze` moves it out of the collector's generations, so full collections stop scanning it. A burst of
reactions allocates a few short-lived objects per event (a future, callback handles, task wake-ups) that their
reference counts free at once; collecting the youngest generation every 700 net allocations (CPython's default)
then spent a fifth of the vote path's CPU, every 10,000 a twentieth (bench/RESULTS.md, "votes2"). Objects in
reference cycles wait for the next collection a little longer: memory is not what bounds this process.
"""

from __future__ import annotations

import gc

YOUNGEST = 10_000
"""Net allocations between two collections of the youngest generation (CPython's default is 700)."""


def settle() -> None:
    """Freeze what start-up made and collect the youngest generation less often (the older ones as before)."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST, middle, oldest)
