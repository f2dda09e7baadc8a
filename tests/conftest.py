"""Shared fixtures: the repository root on sys.path is never `operator/`."""
