"""Hardening tests: hostile files, secrets, TLS, kill-safe saves and the soak."""
