"""The engine daemon: the event loop and its parts (monitors, delivery, signals, turns,
follow-ups, the run advancer). Only the daemon process runs this package."""
