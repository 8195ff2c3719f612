"""Errors a user can act on: each message names the key, the bad value and what is allowed."""


class NotInvertibleError(ValueError):
    """Raised when an inverse is asked of a function that does not guarantee one."""
