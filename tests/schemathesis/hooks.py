"""Loaded by schemathesis (SCHEMATHESIS_HOOKS) in tests/acceptance/test_api_conformance.py: a pushed
project is a gzip archive, sent as the bytes it generates for a binary body."""

import schemathesis

schemathesis.serializer.alias("application/gzip", "application/octet-stream")
