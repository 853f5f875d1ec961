from django.apps import AppConfig


class MarketsiteConfig(AppConfig):
    name = "marketsite"
