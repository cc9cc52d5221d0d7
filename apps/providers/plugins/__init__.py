"""One module per AI provider; each declares `PROVIDER = ProviderSpec(...)` (see base.py).

The registry (apps.providers.registry) finds them here by listing this package, so adding a
provider is adding a module: docs/providers.md says what goes in it.
"""
