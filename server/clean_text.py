"""Text both databases store alike: valid UTF-8 without NUL.

PostgreSQL refuses NUL in text and jsonb (SQLite would store it), and a lone surrogate such as
``\\ud800`` (which a JSON ``"\\ud800"`` escape decodes to) is not UTF-8 at all, so either would
fail the whole batch at the database; validation refuses them at their field instead.
"""

from __future__ import annotations

NUL_MESSAGE = "must not contain NUL (\\u0000) characters"
SURROGATE_MESSAGE = "must be valid Unicode (a lone surrogate such as \\ud800 is not)"


def text_problem(text: str) -> str | None:
    """Why ``text`` cannot be stored, or None when it can."""
    if "\x00" in text:
        return NUL_MESSAGE
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return SURROGATE_MESSAGE
    return None


def printable(text: str) -> str:
    """``text`` safe to echo in an issue path or message (lone surrogates escaped)."""
    if text.isascii():
        return text
    return text.encode("utf-8", "backslashreplace").decode("utf-8")
