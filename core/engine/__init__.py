"""The engine: one attempt assembly for every caller, the asyncio runner, the operator context,
processes and the Python worker."""
