"""Jobs that run on Ray: ingest adapters, features, embedding, materialization, training and
encoder fine-tuning (Ray Train), refresh and evaluation. Each is a typed ``run(...)`` called by
the CLI; shared model and feature code lives in ``livecart.model`` and ``livecart.features``."""
