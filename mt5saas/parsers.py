"""The API's JSON parser (settings.REST_FRAMEWORK's DEFAULT_PARSER_CLASSES)."""

from rest_framework import exceptions, parsers

from .jsontext import unstorable_text


class JSONParser(parsers.JSONParser):
    """DRF's JSON parser, refusing with a 400 what it lets through: nesting deeper than the
    recursion limit (a RecursionError, not the ValueError it catches) and text no column
    can hold (unstorable_text)."""

    def parse(self, stream, media_type=None, parser_context=None):
        try:
            data = super().parse(stream, media_type, parser_context)
        except RecursionError:
            raise exceptions.ParseError("JSON parse error - nested too deeply.") from None
        if (problem := unstorable_text(data)) is not None:
            raise exceptions.ParseError(problem)
        return data
