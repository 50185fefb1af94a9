from aedx.cli import app

app(prog_name="aedx")
