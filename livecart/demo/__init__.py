"""``livecart demo``: the end-to-end demo on embedded defaults, and its report (terminal, JSON,
HTML page with the project's own plots)."""
