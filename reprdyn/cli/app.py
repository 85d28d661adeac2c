"""The Typer app, its consoles and its one log format."""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console

app = typer.Typer(
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Representation dynamics of diffusion models: specs -> tasks -> zarr cubes -> queries.",
)
# text is printed as it is, never read as Rich markup: a path or a sweep point may hold [brackets]
out = Console(soft_wrap=True, markup=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, soft_wrap=True, markup=False, width=None if sys.stderr.isatty() else 120)
LOG_FORMAT, LOG_TIME = "%(asctime)s %(message)s", "%H:%M:%S"  # every line on stderr
VERBOSE = False  # `reprdyn --verbose`: errors with their details (a YAML parser's own words)


class _ToConsole(logging.Handler):
    """Log records as plain lines on the error console (a live progress bar stays below them)."""

    def emit(self, record: logging.LogRecord) -> None:
        err.print(self.format(record), markup=False, highlight=False)


def log_line(message: str) -> None:
    """One line on stderr in the log's format (the run's progress when stderr is not a
    terminal)."""
    logging.getLogger("reprdyn").info(message)


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        print(f"reprdyn {__version__}")
        raise typer.Exit()


@app.callback()
def _setup(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="print the version"),
    ] = False,
    verbose: Annotated[
        bool,
        typer.Option("--verbose", help="add the YAML parser's own words to a syntax error"),
    ] = False,
) -> None:
    """Representation dynamics of diffusion models: specs -> tasks -> zarr cubes -> queries."""
    global VERBOSE
    VERBOSE = verbose  # set by every invocation: nothing carries over to the next
    log = logging.getLogger("reprdyn")
    if not log.handlers:
        handler = _ToConsole()
        handler.setFormatter(logging.Formatter(LOG_FORMAT, LOG_TIME))
        log.addHandler(handler)
        log.setLevel(logging.INFO)
        log.propagate = False


def tidy_help(typer_app: typer.Typer) -> None:
    """Help that reads as sentences at any width: each command's docstring with its source line
    breaks joined inside paragraphs (the command list otherwise breaks mid-sentence), and no
    `<bool>` beside a flag (a flag takes no value)."""
    import inspect
    import re

    for info in typer_app.registered_commands:
        if info.help is None and info.callback is not None:
            doc = inspect.getdoc(info.callback) or ""
            info.help = re.sub(r"(?<!\n)\n(?!\n)", " ", doc)
    from typer import core

    shown = getattr(core.TyperOption, "display_type_rich", None)
    if shown is not None and not getattr(shown, "_reprdyn", False):

        def display_type_rich(self, ctx):
            return None if self.is_flag else shown(self, ctx)

        display_type_rich._reprdyn = True
        core.TyperOption.display_type_rich = display_type_rich


def verbose() -> bool:
    """Whether this invocation asked for --verbose."""
    return VERBOSE
