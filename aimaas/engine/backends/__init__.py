"""Model runtimes: llama.cpp for GGUF, sentence-transformers for embeddings."""
