"""Agent programs shipped with orchtui (the scripted test agent)."""
