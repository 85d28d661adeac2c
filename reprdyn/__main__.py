"""`python -m reprdyn` runs the command line."""

from .cli import main

main()
