"""Network architectures, one module per paper model."""
