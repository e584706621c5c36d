"""Publication targets, one module per network (X today)."""
