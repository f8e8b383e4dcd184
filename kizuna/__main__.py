"""`python -m kizuna` runs the command line."""

from kizuna.cli import main

main()
