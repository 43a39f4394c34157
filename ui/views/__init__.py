"""The page's views, one module each; app.py picks one per run."""
