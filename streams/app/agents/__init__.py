"""The worker's agents and timers, one module each; each has `register(...)` called by create_app."""
