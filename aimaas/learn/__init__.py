"""Training the classic algorithms: data, models, one training loop, jobs."""
