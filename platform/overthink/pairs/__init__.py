"""Preference pairs from analyzed responses: the paper's positives (shortest, FCS, FCS+Reflection, GDS) and more."""
