"""`python -m jacnet_cli <command> ...` is the same as `jacnet <command> ...`."""

from jacnet_cli.cli import main

main()
