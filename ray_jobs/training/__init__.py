"""Training examples: point-in-time features from Feast for the ranker's jobs."""
