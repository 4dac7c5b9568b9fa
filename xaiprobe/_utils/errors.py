"""The one exception type user-facing code raises for bad input."""


class XaiprobeError(ValueError):
    """Bad input or a bad artifact, with a one-line message.

    The message names the thing, what is wrong with it and what to do next.
    The CLI prints it on one line and exits with code 2.
    """

    def __init__(self, message: str):
        message = " ".join(str(message).split())
        super().__init__(message)
