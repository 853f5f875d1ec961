from django.apps import AppConfig


class StreamingConfig(AppConfig):
    name = "streaming"

    def ready(self) -> None:
        from ticks import announce

        from .publish import publisher

        # The domain announces new ticks and bars; the stream publishes them.
        announce.register(publisher)
