"""Cohort's bot: adapters to chat platforms, the router and the handlers."""

__version__ = "0.1.0"
