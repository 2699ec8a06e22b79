"""The launchers behind `make run` (dev.py) and `make serve` (serve.py), and what they share."""
