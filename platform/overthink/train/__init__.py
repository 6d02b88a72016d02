"""The train stage: preference pairs -> checkpoint, TRL losses under Ray Train (+ DeepSpeed)."""
