"""Real-data ingest: a platform's exports, or one source file of a known layout (a preset: the
Twitch log, generic interaction benchmarks), mapped into the contract.

Every ingest ends in one path (:mod:`ray_jobs.ingest._pipeline`): quarantine accounting, derived
tables, conform, and the contract's raw tables written into ``settings.raw_dir`` with a
``dataset.json``, so every later stage (validation gate, features, training, serving) runs
unchanged on real data. The CLI wiring lives elsewhere.
"""
