"""The Frontline service: Faust app, agents, sinks, dead letters, web views, and the CLI."""
