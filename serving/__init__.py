"""Ray Serve application (later issues)."""
