"""Clients for outside services; each wraps one service and knows nothing of Django."""
