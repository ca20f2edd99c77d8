"""The talosnb command line: one module per command (see :mod:`talosnb.cli.registry`), each
calling the application layer and returning a Result with text() and as_dict()."""

from .main import main

__all__ = ["main"]
