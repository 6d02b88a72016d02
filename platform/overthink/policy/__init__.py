"""Thinking control at inference time: how long a reasoning model may think (none, a token
budget, or early exit once its probed answer settles). Pure: one request is a generator of
engine calls, driven by the sample stage in batches and by the serve stage per request."""
