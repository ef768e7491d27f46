"""`python -m dealflow.cli ...` is `dealflow ...` (the run command starts its worker this way)."""

from dealflow.cli import main

main()
