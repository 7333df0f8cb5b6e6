"""The one exception type that means "the user's input is wrong" (exit status 2)."""


class UserError(Exception):
    """Bad input or usage: a file, key or value that is not what was expected.

    The message must name the file / key / value and say what was expected; the
    command line prints it without a traceback and exits with status 2.
    """


class TrainingDiverged(RuntimeError):
    """A non-finite loss in at least one run: those runs stopped, earlier checkpoints kept (exit 1)."""
