from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"

    def ready(self) -> None:
        from ticks import announce

        from .auth import key_revocations
        from .publish import publisher

        # The domain announces new ticks, bars and trading statuses (the stream publishes them)
        # and revoked API keys (their open connections are closed).
        announce.register(publisher)
        announce.register(key_revocations)
