"""The durable outbox behind the Notifier: one row per notification key."""
