"""Real-data adapters: map public logs (Twitch, generic interaction benchmarks) into the contract.

Each adapter is a typed ``run(config) -> result`` that writes the contract's raw tables into
``settings.raw_dir`` with :func:`livecart.core.io.write_source`, so every later stage (validation gate,
features, training, serving) runs unchanged on real data. The CLI wiring lives elsewhere.
"""
