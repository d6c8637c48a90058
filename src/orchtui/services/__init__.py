"""Operations any orchtui process runs (the CLI, the dashboard, the engine): sessions,
runs, merges, commits, cleanup, gates, events, budgets and the dashboard's read model."""
