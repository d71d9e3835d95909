"""Artifact storage: where finished videos and stored inputs live, and how they are handed out."""
