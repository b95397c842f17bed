"""`python -m forkjoin.cli`: the same as the `forkjoin` command."""

from forkjoin.cli import main

main()
