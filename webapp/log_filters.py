"""Logging filters named in settings.LOGGING."""

import logging


class DropMessages(logging.Filter):
    """Drops records whose message starts with one of the prefixes: a library's known,
    harmless warning, without silencing the rest of what its logger says."""

    def __init__(self, prefixes: list[str] | tuple[str, ...] = ()) -> None:
        super().__init__()
        self.prefixes = tuple(prefixes)

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().startswith(self.prefixes)
