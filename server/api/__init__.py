"""The REST API, one module per group of resources (Digdag's paths and JSON shapes)."""
