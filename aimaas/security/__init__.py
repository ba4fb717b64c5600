"""Keys and scopes; later: limits and quotas, encryption at rest."""
