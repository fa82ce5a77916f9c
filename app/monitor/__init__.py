"""Monitoring a model in use: live accuracy on new labels, drift of the pool against training data."""
