"""Floor 2: the store, ingest (parse, validate, classify) and boundary layers."""
