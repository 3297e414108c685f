"""The rules and the words: the model, the ranking, summary and voting rules, channel settings, the messages,
the configuration's schema, the errors, and the ports (protocols) every other layer implements or calls. Imports
no other layer of `bot/` (`tests/unit/test_boundaries.py`)."""
