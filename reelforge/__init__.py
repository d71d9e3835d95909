"""reelforge: a self-hosted video-generation API for AI agents."""

__version__ = "0.1.0"
