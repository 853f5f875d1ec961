"""API keys in the admin (through the ``api.ApiKey`` proxy of ``ticks.models.ApiKey``): created
with a name, the key shown once on the next page, revoked with an action (or deleted), which
also closes the key's open ``/ws`` connections. Only a SHA-256 of a key is stored."""

from django.contrib import admin, messages
from django.template.response import TemplateResponse

from ticks.api_keys import api_key_delete, api_key_revoke, new_key_material

from .models import ApiKey


@admin.register(ApiKey)
class ApiKeyAdmin(admin.ModelAdmin):
    list_display = ("name", "shown_prefix", "created_at", "active", "revoked_at")
    list_filter = (("revoked_at", admin.EmptyFieldListFilter),)
    search_fields = ("name", "prefix")
    actions = ("revoke",)
    readonly_fields = ("shown_prefix", "created_at", "revoked_at")

    def get_fields(self, request, obj=None):
        return ("name",) if obj is None else ("name", "shown_prefix", "created_at", "revoked_at")

    @admin.display(description="key")
    def shown_prefix(self, obj) -> str:
        return f"{obj.prefix}…" if obj.prefix else ""

    @admin.display(boolean=True)
    def active(self, obj) -> bool:
        return obj.is_active

    def save_model(self, request, obj, form, change):
        if not change:
            raw, obj.prefix, obj.key_hash = new_key_material()
            request._api_key_raw = raw  # shown once by response_add, stored nowhere
        super().save_model(request, obj, form, change)

    def response_add(self, request, obj, post_url_continue=None):
        raw = getattr(request, "_api_key_raw", None)
        if raw is None:
            return super().response_add(request, obj, post_url_continue)
        context = {
            **self.admin_site.each_context(request),
            "opts": self.model._meta,
            "key": obj,
            "raw_key": raw,
            "title": "API key created",
        }
        response = TemplateResponse(request, "admin/api/apikey/created.html", context)
        response["Cache-Control"] = "no-store"
        return response

    def delete_model(self, request, obj):
        api_key_delete(keys=ApiKey.objects.filter(pk=obj.pk))

    def delete_queryset(self, request, queryset):
        api_key_delete(keys=queryset)

    @admin.action(description="Revoke the selected keys")
    def revoke(self, request, queryset):
        count = api_key_revoke(keys=queryset)
        self.message_user(request, f"{count} key(s) revoked.", messages.SUCCESS)
