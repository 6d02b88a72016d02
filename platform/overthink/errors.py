"""User-facing errors: raised for bad input or config, printed without a traceback by the CLI."""


class OverthinkError(Exception):
    """An error the user can fix; its message says what and where."""


class ConfigError(OverthinkError):
    """A config file or override is invalid; the message names the key."""


class InputError(OverthinkError):
    """An input dataset is unreadable or lacks what the stage needs; the message names the file."""
