"""The job kinds this server runs, one record each: the API submits and shows them, the
workers run them. A new kind is one module with its ``JobKind`` and one line here."""

from __future__ import annotations

from aimaas.evaluate.job_kind import EVALUATION
from aimaas.jobs.kinds import JobKinds
from aimaas.learn.job_kind import TRAINING
from aimaas.optimize.job_kind import OPTIMIZATION

JOB_KINDS = JobKinds([TRAINING, EVALUATION, OPTIMIZATION])
