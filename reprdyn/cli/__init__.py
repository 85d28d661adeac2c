"""The `reprdyn` command line: thin Typer commands over the library, a module per group.

Every command that can fail on user input exits 2 with a clear message on stderr and no traceback
(`errors`). Shared options are declared once (`options`); what commands print is `output`.
"""

from . import result_commands, run, spec_commands, store_commands  # noqa: F401 - they register
from .app import app, tidy_help

tidy_help(app)

__all__ = ["app", "main"]


def main() -> None:
    """Console entry point."""
    app()
