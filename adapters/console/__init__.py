"""The console adapter: the engine in a terminal (`hotpapers demo`, `hotpapers console`, CLI output)."""
