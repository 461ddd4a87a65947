"""Allow `python -m hub ...` as well as `carehub ...`."""

from hub.cli import app

app(prog_name="carehub")
