"""A spec's tree: the one folder a shared spec may read bases from and write into on its own.

A spec is untrusted input (README, "Sharing specs safely"). Its tree is the repository that holds
it (the nearest ancestor folder with `.git`, but never the home folder or `/`, which may be a
dotfiles repository), or else its own folder. Every check is made on real paths, symlinks
followed, so a link inside the tree that points out of it counts as outside.

What the person running reprdyn grants beyond that comes from them alone: `--store`, `--set`,
`--env NAME` (or `REPRDYN_ALLOW_ENV`), `--trust-code`.
"""

from __future__ import annotations

import os
from pathlib import Path

SPEC_SUFFIXES = (".yaml", ".yml")
ALLOW_ENV = "REPRDYN_ALLOW_ENV"  # the user's own list of variables a spec may read


def tree_of(spec_file: str | Path) -> Path:
    """The real folder a spec file may read and write inside (see the module docstring)."""
    folder = Path(os.path.abspath(spec_file)).parent
    stops = {Path("/")}
    try:
        stops.add(Path.home().resolve())
    except RuntimeError:  # no home folder known
        pass
    for d in (folder, *folder.parents):
        if (d / ".git").exists() and d.resolve() not in stops:
            return d.resolve()
    return folder.resolve()


def inside(path: str | Path, tree: Path) -> bool:
    """Whether `path`, symlinks followed (a part that does not exist yet is taken as written),
    lies in `tree`."""
    real = Path(os.path.realpath(path))
    return real == tree or tree in real.parents


def allowed_env(names=()) -> frozenset[str]:
    """The environment variables the person running reprdyn lets a spec read: `names` (from
    `--env`) and the comma- or space-separated list in their REPRDYN_ALLOW_ENV."""
    listed = os.environ.get(ALLOW_ENV, "").replace(",", " ").split()
    return frozenset(n.strip() for n in (*names, *listed) if n.strip())


def cache_root(configured: str | None) -> Path:
    """The folder checkpoints and rendered datasets go to: `compute.cache` (from the runner, or
    a relative path inside the spec's tree), else $REPRDYN_CACHE, else ~/.cache/reprdyn."""
    root = configured or os.environ.get("REPRDYN_CACHE") or Path.home() / ".cache" / "reprdyn"
    return Path(root).expanduser()
