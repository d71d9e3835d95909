"""The reelforge SDK: `Client` / `AsyncClient` for the AIVideoMaker-style task API, and the normalized
result envelope of the executor contract (`Envelope`)."""

from reelforge.client.asynchronous import AsyncClient
from reelforge.client.config import ClientConfig
from reelforge.client.envelope import ClientError, Envelope
from reelforge.client.sync import Client

__all__ = ["AsyncClient", "Client", "ClientConfig", "ClientError", "Envelope"]
