import time

from mt5saas.staff import SIGNED_IN_AT


def remember_sign_in_time(sender, request, user, **kwargs) -> None:
    # Password and Google sign-ins alike; the admin asks for a fresh one after a while.
    if request is not None and hasattr(request, "session"):
        request.session[SIGNED_IN_AT] = time.time()
