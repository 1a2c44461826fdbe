"""The built-in operators, one module each, registered through the same hook as third-party plugins."""
