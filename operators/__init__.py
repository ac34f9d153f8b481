"""What operators do with journeys: read them (`status`, `list`), see the stuck ones,
preview a plan, cancel. The command line (cli/) wires them to commands."""
