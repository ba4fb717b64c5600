"""Long-running work (training, evaluation, optimization) as jobs: queued in the registry,
run one process each by the runner, resumable after a crash.

A job kind is one ``JobKind`` record (``kinds.py``): its spec type, the check run once at
submit, the handler run in the worker, its result type and the object the API shows. One
``JobService`` submits, reads, lists and cancels jobs of every kind; the kinds themselves
live with their packages (``aimaas.learn.job_kind`` ...) and are listed once, in
``aimaas.server.job_kinds``.
"""
