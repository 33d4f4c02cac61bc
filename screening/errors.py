"""Exceptions and warnings raised on bad user input."""


class CandidateError(ValueError):
    """A candidate specification is invalid; the message names the value and the valid choices."""


class DuplicateCandidateWarning(UserWarning):
    """Duplicated candidates were found and dropped."""
