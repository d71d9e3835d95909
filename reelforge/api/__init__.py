"""The HTTP API: the FastAPI app, auth, rate limits, error mapping, and one module per dialect."""
