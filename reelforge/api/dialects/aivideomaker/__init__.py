"""The AIVideoMaker API v1 dialect (`shared/specs/000_*.txt`)."""

from reelforge.api.dialects.aivideomaker.routes import AIVIDEOMAKER_DIALECT

__all__ = ["AIVIDEOMAKER_DIALECT"]
