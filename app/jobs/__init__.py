"""Background jobs seen from the application: the ``xinfang jobs`` commands (``cli``), the
worker process (``worker``, ``python -m app.jobs.worker``) and the hand-off of work from a
request to it (``handoff``)."""
