"""How models run: admission, the llama.cpp backend, stream aggregation."""
