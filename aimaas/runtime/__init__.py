"""Serving models: which exist (specs), which are loaded (manager), batching, and the
services behind the OpenAI routes."""
