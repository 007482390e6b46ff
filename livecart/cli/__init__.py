"""The ``livecart`` command (``livecart.cli.main:app``): one thin shell per job, commands in
pipeline order. Modules import only light things at the top; each command imports its job."""
