"""The pages, one module per area; each view parses a form and calls a service."""
