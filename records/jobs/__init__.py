"""Background jobs: a ``jobs`` table as the queue and journal, handlers registered per
instance (``inst.jobs.register``), a runner that resumes from checkpoints.

``registry`` (the handlers), ``models`` (the table), ``runner`` (submit, run_pending,
run_job). Importing the package registers nothing."""
