"""The delivery side: the composition root (`bootstrap`), the CLI, the runner and its scheduler, health,
metrics, logging, the sample data. May import every layer."""
