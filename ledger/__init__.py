"""civic-ledger's tamper-evident log and rule engine (no HTTP, no CLI)."""

__version__ = "0.1.0"
