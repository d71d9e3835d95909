"""The HTTP API: auth, rate limits, error mapping, and one module per dialect. The app itself is assembled
by the composition root, `reelforge.server`."""
