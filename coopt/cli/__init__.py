"""The ``coopt`` command line: :func:`coopt.cli.main.main` parses the arguments and
calls the Python API; one module per subcommand that needs more than a few lines."""
