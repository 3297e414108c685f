"""`hotpapers web export DIR --channel KEY`: the same pages as static files, for labs that host elsewhere.

Files are named as the server names them (`index.html`, `<day>.html`, `paper-<id>.html`, `feed.atom`) and link to
each other relatively, so the folder works wherever it is put. Only a published channel can be exported.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bot.domain.errors import BadInput
from bot.domain.model import ChannelRef
from bot.web.archive import ChannelArchive
from bot.web.server import render_path


async def export_pages(archive: ChannelArchive, channel: ChannelRef, folder: Path, *, base_url: str = "") -> list[Path]:
    """Write every page of the channel into `folder`; returns the files written. `base_url` (where the folder will
    be served) makes the feed's links absolute; without it they are relative to the feed."""
    state = await archive.for_channel(channel)
    if state is None:
        raise BadInput(
            f"{channel.key[:80]} has no published page; an admin turns it on with `/hotpapers subscribe publish=yes`"
        )
    base = f"{base_url.rstrip('/')}/" if base_url else ""
    names = ["index.html", "feed.atom"]
    days = await archive.days(state)
    names += [f"{record.day.isoformat()}.html" for record in days]
    papers: dict[str, None] = {}
    for record in days:
        page = await archive.day(state, record.day, days=days)
        for entry in page.entries if page else ():
            papers[f"paper-{entry.paper.slug}.html"] = None
    names += list(papers)
    files: dict[str, bytes] = {}
    for name in names:
        rendered = await render_path(archive, state, name, base=base)
        if rendered is not None:
            files[name] = rendered.body
    return await asyncio.to_thread(_write, folder, files)


def _write(folder: Path, files: dict[str, bytes]) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, body in files.items():
        path = folder / name
        path.write_bytes(body)
        written.append(path)
    return written
