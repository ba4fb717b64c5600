"""Long-running work (training, evaluation, optimization) as jobs: queued in the registry,
run one process each by the runner, resumable after a crash."""
