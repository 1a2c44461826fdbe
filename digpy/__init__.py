"""digpy: a workflow engine for .dig workflows (Digdag's language), Dagu DAGs and durable event flows."""

from __future__ import annotations

__version__ = "0.1.0"
__all__ = ["__version__"]
