"""Content negotiation: an unknown ``?format=`` is a 406 naming the formats, not DRF's 404."""

from rest_framework.exceptions import NotAcceptable
from rest_framework.negotiation import DefaultContentNegotiation


class ContentNegotiation(DefaultContentNegotiation):
    def select_renderer(self, request, renderers, format_suffix=None):
        wanted = format_suffix or request.query_params.get(self.settings.URL_FORMAT_OVERRIDE)
        formats = [renderer.format for renderer in renderers]
        if wanted is not None and wanted not in formats:
            raise NotAcceptable(f"format must be one of: {', '.join(formats)}.")
        return super().select_renderer(request, renderers, format_suffix)
