"""Built-in device profiles, one module per wire-format family."""
