"""Command-line interface (typer + rich): a thin shell over the library."""
