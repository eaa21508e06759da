"""The `stemdeck` command line: thin layers over the services' Python APIs."""
