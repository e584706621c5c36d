"""`python -m app` is the `tribune` command."""

from app.cli import main

main()
