"""Webhooks: a durable outbox written with each status change, and a dispatcher that delivers it signed."""
