"""The draft engine: procedural, CPU-only preview videos (not AI). See `engine.py`."""

from reelforge.engines.draft.engine import DraftEngine

__all__ = ["DraftEngine"]
