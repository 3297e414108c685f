"""The garbage collector of a long-running `hotpapers run`, set once start-up is done.

Everything made during start-up (modules, the engine, the adapters' clients, the scheduler) lives as long as the
process: `gc.freeze` moves it out of the collector's generations, so full collections stop scanning it. A burst of
reactions allocates a few short-lived objects per event (a future, callback handles, task wake-ups) that their
reference counts free at once, and the collector need not look at them: with CPython's defaults (the youngest
generation collected every 700 net allocations, nothing frozen) the collector took 47 % of the vote path's CPU in a
burst of 40,000 reactions, with start-up frozen 26–36 %, and frozen with the youngest generation collected every
50,000 allocations 3–4 % (bench/RESULTS.md, "votes2"). Objects in reference cycles wait a little longer for the
collection that frees them; the memory they hold meanwhile is small beside the process's.
"""

from __future__ import annotations

import gc

YOUNGEST = 50_000
"""Net allocations between two collections of the youngest generation (CPython's default is 700)."""


def settle() -> None:
    """Freeze what start-up made and collect the youngest generation less often (the older ones as before)."""
    gc.freeze()
    _, middle, oldest = gc.get_threshold()
    gc.set_threshold(YOUNGEST, middle, oldest)
