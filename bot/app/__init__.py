"""The use cases: `HotPapers` (the chat port), `Operations`, and what they run on — cards, digests, votes,
discussion threads, the journal club, ingest, the signal hub. Imports only `bot.domain`; storage is reached through
its ports."""
