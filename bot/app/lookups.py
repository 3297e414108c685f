"""Nobody can starve the arXiv budget: a per-user limit on `/paper` look-ups that reach arXiv, and a negative cache
of ids arXiv does not have.

Every uncached `/paper` costs one request in the shared 1-per-3-s gate; one person pasting random ids would delay
everyone's look-ups and the daily ingest. Both limits live in the process (a restart forgets them, which is fine:
they bound a burst, they do not keep a record). The clock is injected, so tests move time instead of sleeping.
"""

from __future__ import annotations

from collections import OrderedDict, deque
from dataclasses import dataclass
from datetime import datetime, timedelta

from bot.domain.errors import BadInput, NotFound
from bot.domain.ports import Clock

WINDOW = timedelta(hours=1)
MAX_REMEMBERED = 10_000
"""Ids in the negative cache (oldest forgotten first), so pasting millions of ids cannot grow memory without end."""


class LookupLimit(BadInput):
    """A person asked arXiv about too many papers we do not store within the hour (adapters show the message)."""


@dataclass(frozen=True, slots=True)
class LookupPolicy:
    per_user_per_hour: int = 20
    """Look-ups that reach arXiv, per person and rolling hour (stored papers never count). 0 turns the limit off."""
    missing_for: timedelta = timedelta(hours=6)
    """How long an id arXiv answered "no such paper" for is answered from memory. 0 turns the cache off."""


class LookupGuard:
    def __init__(self, clock: Clock, policy: LookupPolicy | None = None) -> None:
        self._clock = clock
        self.policy = policy or LookupPolicy()
        self._recent: dict[str, deque[datetime]] = {}
        self._missing: OrderedDict[str, datetime] = OrderedDict()

    def before_request(self, arxiv_id: str, user: str | None) -> None:
        """Raise NotFound for an id arXiv recently said it lacks, or LookupLimit when `user` used up the hour;
        otherwise count this look-up against `user` (None: an operator's CLI, never limited)."""
        now = self._clock.now()
        seen = self._missing.get(arxiv_id)
        if seen is not None and now - seen < self.policy.missing_for:
            minutes = max(1, round((now - seen).total_seconds() / 60))
            raise NotFound(f"arXiv has no paper {arxiv_id} (it said so {minutes} min ago)")
        limit = self.policy.per_user_per_hour
        if user is None or limit <= 0:
            return
        times = self._recent.setdefault(user, deque())
        while times and now - times[0] >= WINDOW:
            times.popleft()
        if len(times) >= limit:
            wait = max(1, round((times[0] + WINDOW - now).total_seconds() / 60))
            raise LookupLimit(
                f"you have looked up {limit} papers that are not stored here within the hour, the limit per person "
                f"(arXiv allows the whole bot one request every 3 s); papers already stored still work, new ones "
                f"again in {wait} min"
            )
        times.append(now)
        self._forget_idle(now)

    def not_on_arxiv(self, arxiv_id: str) -> None:
        if self.policy.missing_for <= timedelta(0):
            return
        self._missing[arxiv_id] = self._clock.now()
        self._missing.move_to_end(arxiv_id)
        while len(self._missing) > MAX_REMEMBERED:
            self._missing.popitem(last=False)

    def _forget_idle(self, now: datetime) -> None:
        if len(self._recent) > MAX_REMEMBERED:
            for user in [u for u, times in self._recent.items() if not times or now - times[-1] >= WINDOW]:
                del self._recent[user]
