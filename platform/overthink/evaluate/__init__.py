"""The evaluate stage: a checkpoint × benchmark sets -> sample + analyze -> paper-style tables,
compared against a baseline evaluation."""
