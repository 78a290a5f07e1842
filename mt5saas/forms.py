from django import forms

from .models import OwnedQuerySet


class OwnedFormMixin:
    """Every choice of a related row offers only the user's own rows, so a foreign id
    posted by hand fails validation like an unknown one."""

    def __init__(self, *args, user, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        for field in self.fields.values():
            if isinstance(field, forms.ModelChoiceField) and isinstance(field.queryset, OwnedQuerySet):
                field.queryset = field.queryset.owned_by(user)


def id_param(text: str) -> int | None:
    """A row id from a query or form parameter, or None: ASCII digits only ("²".isdigit() is
    True and int() refuses it) and within a 64-bit key."""
    return int(text) if text.isascii() and text.isdigit() and len(text) < 19 else None
