"""What an operator sees of a running reelforge: request ids and log formats (metrics live in `api/metrics.py`,
next to the store they read). The bottom layer: it imports nothing of reelforge, so every layer may log with it."""
