"""The ``aimaas`` command line."""
