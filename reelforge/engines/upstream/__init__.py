"""The `upstream` engine: a hosted video-generation provider behind a reelforge model name.

`settings.py` reads the model's settings table; `client.py` talks HTTP to the provider (auth, timeouts,
bounded retries with the SDK's backoff, 429 + Retry-After); `errors.py` maps the provider's failures to
reelforge's stable codes without ever echoing the key; `aivideomaker.py` and `openai_videos.py` are the
two provider kinds; `engine.py` runs one task: create (with `Idempotency-Key: <task id>`), poll, forward a
cancel, download, probe. See docs/providers.md.
"""
