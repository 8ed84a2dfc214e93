"""`python -m bot.cli …` runs the `phieu` command."""

from bot.cli.app import main

main()
