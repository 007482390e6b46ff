"""Honest offline evaluation of room recommendation: time-ordered protocols, tie-aware metrics,
baselines (POP, REP, item-CF, BPR-MF, SASRec, two-tower) and livecart's room ranker.

Modules, in dependency order: :mod:`.protocols` (leave-last-out, live-now, sampled negatives),
:mod:`.metrics`, :mod:`.base` (the ``Recommender`` protocol), the models (:mod:`.baselines`,
:mod:`.bpr`, :mod:`.sasrec`, :mod:`.two_tower`, and :mod:`.live_ranker`: the room ranker of
:mod:`livecart.model.room_ranker`, fitted here or loaded from the registry as it serves),
:mod:`.report` and :mod:`.runner` (``run(config)``). The interaction log and the room signals are
shared with training and serving (:mod:`livecart.model.interaction_log`,
:mod:`livecart.model.room_signals`). Importing the package loads nothing heavy.
"""
