"""The service's routes, one module a concern."""
