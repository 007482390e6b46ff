"""The Ray Serve application: routes (``app``), a replica's viewer pipeline and its stages,
streamer assist, event ingest (``event_ingest``, ``event_gate``, ``live_state``) and the streamer
console. Reads features through ``livecart.features.reader``; imports no job."""
