"""Wording shared by the commands' messages (standard library only: every command may import it)."""


def counted(n: int, noun: str, plural: str | None = None) -> str:
    """`1 file`, `2 files` (`plural` where adding an s is wrong: `counted(n, "entry", "entries")`)."""
    return f"{n} {noun if n == 1 else plural or noun + 's'}"
