"""Simulation in one place: the seeded synthetic world (``world``, ``generate``), its one oracle
(planted truth), the replay of the feedback loop against the serving pipeline, and a live session
over HTTP. Sits above jobs and serving, which it drives; nothing below imports it."""
