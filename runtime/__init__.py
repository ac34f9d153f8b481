"""How the processes run: the connection to Temporal with the one data converter, the
worker's metrics endpoint, its logs and its health."""
