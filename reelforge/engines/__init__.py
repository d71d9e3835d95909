"""Engines turn a `GenerationRequest` into an MP4. See `base.py` for the protocol."""
