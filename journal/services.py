"""The journal's front door for writes: deals from a terminal stored, attributed and folded into
trades (the host agent's rounds call the same code through journal.rounds)."""

from .ingest import deals_record, deals_store

__all__ = ["deals_record", "deals_store"]
