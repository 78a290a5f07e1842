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
