"""Text a JSON body may carry but no database column can hold."""


def unstorable_text(data: object) -> str | None:
    """Why some string in parsed JSON (keys included) cannot be stored, naming where, or None.

    JSON may escape a lone UTF-16 surrogate ("\\ud800"): Python parses it into a string
    that cannot be encoded, so every write, log line or reply echoing it fails. And no
    PostgreSQL text holds a NUL. Walked without recursion: the parser allows nesting up to
    the recursion limit."""
    pending: list[tuple[object, str]] = [(data, "")]
    while pending:
        value, where = pending.pop()
        if isinstance(value, dict):
            for key, item in value.items():
                inner = f"{where}.{key}" if where else str(key)
                pending += [(key, f"{inner} (the name)"), (item, inner)]
        elif isinstance(value, list):
            pending += [(item, f"{where}[{index}]") for index, item in enumerate(value)]
        elif isinstance(value, str):
            field = where or "The body"
            if "\x00" in value:
                return f"{_printable(field)} contains a NUL character (\\u0000)."
            try:
                value.encode("utf-8")
            except UnicodeEncodeError:
                return f"{_printable(field)} contains a lone UTF-16 surrogate (such as \\ud800), not Unicode text."
    return None


def _printable(where: str) -> str:
    """The path with what cannot be shown escaped: it may be the offending key itself."""
    return where.encode("utf-8", "backslashreplace").decode("utf-8").replace("\x00", "\\u0000")[:100]
