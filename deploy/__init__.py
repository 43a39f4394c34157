"""Serving a class: the local trial (`make class`, deploy/trial.py) and the host files it mirrors (deploy/nginx,
deploy/systemd, deploy/compose.yaml; docs/deploy.md)."""
