"""Where stages run and record: Ray (local or a cluster) and MLflow (local sqlite or a server)."""
