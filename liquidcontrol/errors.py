"""The one exception type users see for mistakes they can fix."""


class LiquidControlError(ValueError):
    """A user-fixable problem (bad path, wrong shape, unknown name, NaN ...).

    The message is one sentence naming the offending value and what was
    expected. The CLI prints it without a traceback and exits with status 2.
    """
