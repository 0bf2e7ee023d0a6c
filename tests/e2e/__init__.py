"""End-to-end tests: the real commands as subprocesses (and inside tmux)."""
