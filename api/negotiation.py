"""Content negotiation: an unknown ``?format=`` is a 406 naming the formats, not DRF's 404."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import BaseContentNegotiation, DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        formats = [renderer.format for renderer in renderers]
        if wanted is not None and wanted not in formats:
            raise NotAcceptable(f"format must be one of: {', '.join(formats)}.")
        return super().select_renderer(request, renderers, format_suffix)


class JsonOnly(BaseContentNegotiation):
    """Always JSON, whatever ``Accept`` or ``?format=`` say: the vendor dialects (Alpaca,
    Massive) answer JSON only."""

    def select_parser(self, request, parsers):
        return parsers[0] if parsers else None

    def select_renderer(self, request, renderers, format_suffix=None):
        return renderers[0], renderers[0].media_type
