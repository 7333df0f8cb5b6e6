"""The one exception type that means "the user's input is wrong" (exit status 2)."""


class UserError(Exception):
    """Bad input or usage: a file, key or value that is not what was expected.

    The message must name the file / key / value and say what was expected; the
    command line prints it without a traceback and exits with status 2.
    """


class RunFailed(RuntimeError):
    """A run failed (exit 1); the message says why and what was kept."""


class TrainingDiverged(RunFailed):
    """A non-finite loss in at least one run: those runs stopped, earlier checkpoints kept (exit 1)."""


class Interrupted(Exception):
    """SIGINT / SIGTERM: training stopped after saving (exit 130 / 143, i.e. 128 + the signal)."""

    def __init__(self, signum: int, message: str):
        super().__init__(message)
        self.signum = signum
        self.exit_status = 128 + signum
