"""The job worker process: ``python -m aimaas.server.worker JOB_ID``, with the server's
settings as JSON on stdin (``aimaas.jobs.runner`` starts it; ``aimaas.jobs.worker`` runs
the job with the handler of its kind)."""

from __future__ import annotations

import sys

from aimaas.jobs.worker import main
from aimaas.server.job_kinds import JOB_KINDS

MODULE = "aimaas.server.worker"

if __name__ == "__main__":
    sys.exit(main(sys.argv, JOB_KINDS, program=MODULE))
