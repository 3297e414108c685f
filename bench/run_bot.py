"""`python -m bench.run_bot ARGS` runs `hotpapers ARGS` with discord.py pointed at a loopback fake Discord.

The footprint benchmark starts the real `hotpapers run` in its own process; only the Discord base URLs differ, taken
from HOTPAPERS_BENCH_DISCORD_API and HOTPAPERS_BENCH_DISCORD_GATEWAY (discord.py has no setting for them).
"""

from __future__ import annotations

import os
import sys


def main() -> int:
    api, gateway = os.environ.get("HOTPAPERS_BENCH_DISCORD_API"), os.environ.get("HOTPAPERS_BENCH_DISCORD_GATEWAY")
    if api and gateway:
        import discord
        import yarl

        discord.http.Route.BASE = api  # type: ignore[misc]
        discord.gateway.DiscordWebSocket.DEFAULT_GATEWAY = yarl.URL(gateway)
    from bot.runtime.cli import main as hotpapers

    return hotpapers(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
