"""Who acts in tests that create, cancel or serve jobs through the services: the services
refuse a caller without the permission, so setup steps name a user who holds them all."""

from django.contrib.auth import get_user_model

TRAINER = "trainer"


def trainer():
    """A user in the "Vitrine staff" group (every job and import permission), created in
    the test's database on first use; not a superuser, so the group is what grants it."""
    from webapp.permissions import staff_group_ensure

    user, made = get_user_model().objects.get_or_create(username=TRAINER)
    if made:
        user.groups.add(staff_group_ensure())
    return user
