"""See the package docstring of liquidcontrol."""
