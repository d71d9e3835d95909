"""The `reelforge` command."""
