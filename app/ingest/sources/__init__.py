"""Source implementations, one module per network (replay today)."""
