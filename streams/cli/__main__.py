"""``python -m streams.cli``: the same as the ``supervise`` command."""

from streams.cli import main

main()
