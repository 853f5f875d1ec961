"""The API keys in the admin. The model and its services belong to the domain
(``ticks.models.ApiKey``, ``ticks.api_keys``); this proxy keeps the admin's pages
(``/admin/api/apikey/``) and the staff's ``api.*_apikey`` permissions where they were."""

from ticks.models import ApiKey as _ApiKey


class ApiKey(_ApiKey):
    class Meta:
        proxy = True
        verbose_name = "API key"
        ordering = ["-created_at"]
