"""Shared test helpers (not test modules): fixtures, scenario builders, real-node harnesses."""
