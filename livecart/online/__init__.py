"""livecart's DuckDB online store for Feast (see store.py for the design)."""
