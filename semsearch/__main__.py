"""`python -m semsearch`."""

from .cli import main

main()
