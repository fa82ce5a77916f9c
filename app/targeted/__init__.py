"""Targeted learning: failure sets, mining the pool for look-alikes, similar-sample search."""
