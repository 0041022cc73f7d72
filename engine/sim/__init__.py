"""A seeded community simulator: synthetic members, a course catalog and their history."""

from engine.sim.catalog import CatalogItem, python_course
from engine.sim.community import (
    ARCHETYPES,
    Completion,
    GroundTruth,
    MemberTruth,
    SimulatedCommunity,
    simulate_community,
)

__all__ = [
    "ARCHETYPES",
    "CatalogItem",
    "Completion",
    "GroundTruth",
    "MemberTruth",
    "SimulatedCommunity",
    "python_course",
    "simulate_community",
]
