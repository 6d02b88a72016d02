"""The pipeline: problems -> sample -> analyze -> pairs -> train or sweep -> evaluate -> register."""
