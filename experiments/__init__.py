"""Runnable studies built on jaxact: ``python -m experiments.<name>``."""
