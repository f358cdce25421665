from django.apps import AppConfig


class CommunityConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "community"
    verbose_name = "Community"

    def ready(self) -> None:
        from community import checks, signals  # noqa: F401 (checks: registers deploy checks)

        signals.connect()  # sessions end (and sockets close) on logout and password changes
