"""Changes to a person's own profile."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from community.models import User


def display_name_taken(name: str, *, exclude_pk: int | None = None) -> bool:
    others = User.objects.filter(display_name__iexact=name.strip())
    if exclude_pk is not None:
        others = others.exclude(pk=exclude_pk)
    return others.exists()


def update_profile(
    *,
    actor: User,
    display_name: str,
    about: str = "",
    home_town: str = "",
    appear_offline: bool = False,
    email_notifications: str | None = None,
) -> User:
    name = " ".join(display_name.split())
    if not name:
        raise ValidationError({"display_name": "Please choose a display name."})
    if display_name_taken(name, exclude_pk=actor.pk):
        raise ValidationError(
            {"display_name": "Someone already uses that name. Please try another."}
        )
    if email_notifications and email_notifications not in User.EmailChoice.values:
        raise ValidationError({"email_notifications": "Please choose one of the options."})
    from community.services.local_groups import home_place_fields

    home = home_place_fields(home_town)  # the gazetteer's place, or a ValidationError
    with transaction.atomic():
        if email_notifications:  # left out: keep the current choice
            actor.email_notifications = email_notifications
        actor.display_name = name
        actor.about = about.strip()
        actor.home_town = home_town.strip()
        for field, value in home.items():  # name, place id and approximate coordinates
            setattr(actor, field, value)
        actor.appear_offline = appear_offline
        actor.save(update_fields=["display_name", "about", "home_town", "appear_offline",
                                  "email_notifications", *home])
    return actor
