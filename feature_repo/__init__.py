"""Feast definitions of livecart (entities, sources, feature views, feature services);
``repo.py`` is Feast's entry point, ``feature_store.yaml`` its configuration."""
