"""The ``examples`` marker: tests that run an examples/ script in a subprocess (select with ``-m examples``)."""


def pytest_configure(config):
    config.addinivalue_line("markers", "examples: runs a script of examples/ with --quick in a subprocess")
