"""The serve stage: a model behind OpenAI-compatible HTTP on Ray Serve, with thinking control
(budget, early exit) per request and an `overthinking` report on every response."""
