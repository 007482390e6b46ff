"""livecart: feature-store-centric real-time recommendations for live-stream e-commerce.

The package holds the floors that jobs and serving share, bottom up: ``core`` (settings,
contract, names), ``online`` (the DuckDB online store plugin), ``model`` and ``features`` (the
ranker and how features reach it), ``simulation`` (the generated world and its replays), and the
entry points ``cli``, ``demo`` and ``bench``. ``tests/unit/test_layers.py`` keeps imports going
down. Nothing is imported here.
"""

__version__ = "0.1.0"
