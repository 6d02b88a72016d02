"""The model organism of overthinking: a synthetic o1-style corpus and a tiny Qwen2 causal LM
trained on it from scratch, so the whole platform runs and is tested for real on CPU."""
