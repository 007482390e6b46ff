"""livecart: feature-store-centric real-time recommendations for live-stream e-commerce."""

__version__ = "0.1.0"
