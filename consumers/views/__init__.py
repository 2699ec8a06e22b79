"""The consumers app's pages, one module per family of pages (see consumers/urls.py)."""
