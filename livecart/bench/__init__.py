"""Benchmarks that print JSON, measured side by side with a baseline in one run."""
