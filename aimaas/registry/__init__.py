"""What exists: tenants, keys, models and their versions, files, jobs, usage; and the artifacts."""
