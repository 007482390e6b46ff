"""Honest offline evaluation of room recommendation: time-ordered protocols, tie-aware metrics,
baselines (POP, REP, item-CF, BPR-MF, SASRec) and livecart's live-streaming ranker.

Modules, in dependency order: :mod:`.data` (interactions from the contract), :mod:`.protocols`
(leave-last-out, live-now, sampled negatives), :mod:`.metrics`, :mod:`.base` (the
``Recommender`` protocol), the models (:mod:`.baselines`, :mod:`.bpr`, :mod:`.sasrec`,
:mod:`.features` + :mod:`.live_ranker`), :mod:`.report` and :mod:`.runner` (``run(config)``).
Importing the package loads nothing heavy; import the module you need.
"""
