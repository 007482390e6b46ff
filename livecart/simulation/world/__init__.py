"""The generated live-commerce world: catalogue, viewer behaviour, text and injected faults."""
