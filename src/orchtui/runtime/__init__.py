"""Runtimes: tmux, git, and the launcher that starts an agent inside a tmux window."""
