"""`orchtui serve`: the dashboard in a browser, a JSON API and the approvals page (docs/web.md)."""
