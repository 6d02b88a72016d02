"""The sample stage: problems -> prompts -> n responses each from an engine (vLLM, transformers
or an OpenAI-compatible endpoint), on Ray Data actors, resumable, into Parquet."""
