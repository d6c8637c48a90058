"""The engine: sessions, monitors, queue and ledger, delivery, and the event loop."""
