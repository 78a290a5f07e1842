import factory
from factory.django import DjangoModelFactory

from accounts.models import User, WebhookToken
from accounts.services import webhook_token_rotate


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"trader{n:04d}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.test")
    name = factory.LazyAttribute(lambda u: f"Trader {u.username}")
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery staple")

    @factory.post_generation
    def _saved(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class WebhookTokenFactory(DjangoModelFactory):
    """Issues through the service, so the row is exactly what production stores."""

    class Meta:
        model = WebhookToken

    owner = factory.SubFactory(UserFactory)

    @classmethod
    def _create(cls, model_class, owner, **kwargs):
        webhook_token_rotate(user=owner)
        return model_class.objects.get(owner=owner)


# Every model whose manager has owned_by() needs a factory here; the isolation test
# fails for an owned model it cannot create.
OWNED_FACTORIES = {WebhookToken: WebhookTokenFactory}
