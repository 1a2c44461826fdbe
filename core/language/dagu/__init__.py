"""The Dagu front end: Dagu YAML DAG files compiled into the engine's workflow config."""
