"""Great Expectations 1.x gates, for raw sources and for feature tables.

``suites`` builds the row suites from the contract, ``checks`` the table-level checks, ``engine``
runs them, ``gate`` splits a batch into good and quarantined rows (also for events sent to the
API), ``docs`` writes Data Docs, ``report`` summarises a run and ``run`` is the job;
``feature_suites`` and ``feature_gate`` check the feature tables before they reach Feast.
Nothing is imported here, so ``import validation`` stays cheap.
"""
