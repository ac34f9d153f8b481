"""The one command line: `python starter.py COMMAND ...` (see `cli.main`)."""
