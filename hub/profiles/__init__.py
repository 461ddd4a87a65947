"""Declarative device profiles at run time: reload without a restart, HTTP push bindings, `carehub profiles`."""
