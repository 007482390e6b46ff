"""Great Expectations gates for the raw sources.

``suites`` builds the row suites from the contract, ``checks`` the table-level checks, ``engine``
runs them, ``gate`` splits a batch into good and quarantined rows, ``docs`` writes Data Docs,
``report`` summarises a run and ``run`` is the job. Nothing is imported here, so
``import validation`` stays cheap.
"""
