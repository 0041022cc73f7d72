"""Moderation state: warnings that expire, restrictions Cohort applied, filters, settings."""
