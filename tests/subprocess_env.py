import os

# Set by the browser tests for this process only; a server or worker must keep Django's guard.
TEST_PROCESS_ONLY = ("DJANGO_ALLOW_ASYNC_UNSAFE",)


def subprocess_env(drop: tuple[str, ...] = ()) -> dict[str, str]:
    """This process's environment, minus what must not reach a child process."""
    return {k: v for k, v in os.environ.items() if k not in TEST_PROCESS_ONLY + drop}
