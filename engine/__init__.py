"""Cohort's engine: platform-neutral domain logic, storage and ML. Imports no chat SDK."""
