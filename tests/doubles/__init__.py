"""Test doubles of Cohort's own ports (never of the libraries we support)."""
