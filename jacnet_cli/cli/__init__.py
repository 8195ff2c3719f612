"""The command line: the router (`main`), the checks (`validate`) and the tasks (`tasks`).
Imports every layer below it."""

from jacnet_cli.cli.main import main

__all__ = ["main"]
