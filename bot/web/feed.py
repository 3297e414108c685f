"""The channel's Atom feed (feedgen): one entry per digest day.

Feed and entry ids are `urn:uuid:` values derived from the channel page's `feed_id`, fixed at its first
publication and never from the URL token: rotating the token changes the links, not the ids, so a reader that
follows the new feed URL does not see every entry twice.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from feedgen.feed import FeedGenerator

from bot.web.archive import DayPage
from bot.web.render import _environment

EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


def entry_id(feed_id: str, page: DayPage) -> str:
    return f"urn:uuid:{uuid.uuid5(uuid.UUID(feed_id), page.day.isoformat())}"


def atom_feed(feed_id: str, pages: list[DayPage], *, base: str, published: datetime | None) -> bytes:
    """The feed for `pages` (newest first); `base` is the page's URL ending in `/` (it carries the token)."""
    generator = FeedGenerator()
    generator.id(f"urn:uuid:{feed_id}")
    generator.title("Hot papers")
    generator.subtitle("A channel's daily digest of new arXiv papers")
    generator.link(href=f"{base}index.html", rel="alternate", type="text/html")
    generator.link(href=f"{base}feed.atom", rel="self", type="application/atom+xml")
    generator.generator("hotpapers")
    generator.language("en")
    updated = max((page.updated for page in pages), default=published or EPOCH)
    generator.updated(updated)  # set, not left to "now": the same data gives the same bytes (and ETag)
    template = _environment().get_template("feed_entry.html")
    for page in reversed(pages):  # feedgen prepends each entry: add oldest first so the newest comes first
        entry = generator.add_entry()
        entry.id(entry_id(feed_id, page))
        entry.title(f"Hot papers {page.day.isoformat()}")
        entry.link(href=f"{base}{page.day.isoformat()}.html", rel="alternate", type="text/html")
        entry.updated(page.updated)
        entry.published(page.updated)
        entry.content(template.render(page=page, base=base), type="html")
        entry.summary(f"{len(page.entries)} hot papers: " + "; ".join(e.paper.title for e in page.entries[:5]))
    return bytes(generator.atom_str(pretty=True))
