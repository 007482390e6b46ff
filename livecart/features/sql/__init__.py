"""DuckDB feature SQL: profile tables for the offline job, and the real-time views that the
offline job and event ingest both compute with the same statements."""
