"""How features are made and read, shared by jobs and serving: the home's Feast store
(``feast_store``), the DuckDB feature SQL used offline and on event ingest (``sql``), and
serving's one feature reader (``reader``) with the ranker-shaped columns it hands out."""
