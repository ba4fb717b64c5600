"""Keys, limits and quotas, the audit log, sealed scratch files and checks of uploaded model
files. (The scopes keys carry are wire vocabulary, in protocol/scopes.py; the AES-GCM
primitives every layer seals with are aimaas/crypto.py.)"""
