"""How a command fails: known errors as a clear message on stderr and exit 2, interrupts as 130
and 143, anything else as one line and exit 1 (REPRDYN_DEBUG=1 shows the traceback)."""

from __future__ import annotations

import functools
import os
from pathlib import Path

import typer

from ..errors import InputError, QueryError, SpecError, StoreError
from ..stop import Stopped
from .app import err


class UserError(Exception):
    """Bad input: printed as-is, exit code 2."""


def fail(lines: list[str] | str, code: int = 2):
    for line in [lines] if isinstance(lines, str) else lines:
        err.print(line, markup=False, highlight=False)
    raise typer.Exit(code)


def shown(issues) -> list[str]:
    """A spec's issues as printed: with their details when this invocation asked for --verbose."""
    from .app import verbose

    return [i.verbose() if verbose() else str(i) for i in issues]


def handled(fn):
    """Turn known errors into a clear message and exit 2. A problem found after loading (a missing
    file, a mask of the wrong size) that names a spec field is placed at that field of the
    command's spec file (its `spec_file` argument), like a schema error."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except (typer.Exit, typer.Abort):
            raise
        except SpecError as e:
            fail(shown(e.issues))
        except InputError as e:
            spec_file = kwargs.get("spec_file")
            if e.at is not None and isinstance(spec_file, Path):
                from ..spec.loader import locate

                fail(str(locate(spec_file, e.at, str(e))))
            fail(f"error: {e}")
        except (StoreError, QueryError, UserError) as e:
            fail(f"error: {e}")
        except Stopped:
            fail(
                "terminated (SIGTERM); finished tasks are kept in the store, and a training in "
                "progress in its resumable state: run again to resume",
                143,
            )
        except KeyboardInterrupt:
            fail("interrupted; finished tasks are kept in the store, run again to resume", 130)
        except Exception as e:  # noqa: BLE001 - the user sees one line, not a traceback
            if os.environ.get("REPRDYN_DEBUG"):
                raise
            fail(f"error: {type(e).__name__}: {e} (set REPRDYN_DEBUG=1 for the traceback)", 1)

    return wrapper


def stop_on_sigterm() -> None:
    """SIGTERM asks the command to stop at the next safe point (between tasks or training steps,
    where a training writes its resumable state). A command that reaches none within the grace
    period, or a second SIGTERM, ends the process at once: a task cut in half is never in the
    manifest, so nothing finished is lost."""
    import signal

    from .. import stop

    signal.signal(signal.SIGTERM, lambda signum, frame: stop.request(_exit_now))


def _exit_now() -> None:
    err.print(
        "terminated (SIGTERM) outside a safe point; finished tasks are kept in the store, run "
        "again to resume",
        markup=False,
        highlight=False,
    )
    os._exit(143)


def load(path: Path, overrides: list[str] = (), trust: bool = False, env: list[str] = ()):
    """The spec, its text as written (plus the --set lines) and the texts of the bases it
    extends. The schema and the rules come first, the checks that read files and build networks
    after them, so a typo is reported before anything heavy loads."""
    from ..spec import load as load_spec

    load_spec(path, overrides, trust, checks=False, allow_env=env)  # fast: the pure stage alone
    spec, sources = load_spec(path, overrides, trust, allow_env=env)
    text = sources.pop(str(path))
    if overrides:  # the store keeps the spec as written plus what the command line changed
        text += "".join(f"\n# --set {o}" for o in overrides) + "\n"
    return spec, text, sources
