"""What tests share besides fixtures (those stay in ``tests/conftest.py``): servers to crawl, the
CLI as a user runs it, timing checks, proxies, Redis, doubles. Import by module:
``from tests.helpers.site import Site``."""
