"""Durable ingest: what the adapters could not turn into events is kept as dead letters."""
