"""Floor 3: use cases that turn a request into calls of the pure core on stored data."""
