"""Bookkeeping of scheduled firings: each (job, firing) runs once across processes."""
