"""One module per algorithm: a config dataclass and a small torch module each."""
