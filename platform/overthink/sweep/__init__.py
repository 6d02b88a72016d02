"""The sweep stage: Ray Tune over pair strategy × loss × β × γ × learning rate."""
