"""The suite's plugins: its fixtures (orchtui_fixtures.py), the dashboard's deterministic
worlds (dashboard_fixture.py) and the fake model server the real agent CLIs talk to
(real_agents.py). Helpers are imported from helpers.py."""

pytest_plugins = ["orchtui_fixtures", "dashboard_fixture", "real_agents", "postgres"]
