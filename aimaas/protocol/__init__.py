"""Wire schemas only: what goes over HTTP, apart from what it means."""
