from django.contrib import admin

from community.admin import SiteStaffCanView
from moderation.models import AuditEntry


@admin.register(AuditEntry)
class AuditEntryAdmin(SiteStaffCanView, admin.ModelAdmin):
    """The audit log is append-only: staff can read and search it, never change it."""

    list_display = ["created_at", "action", "actor_name", "target_name", "group_name", "reason"]
    list_filter = ["action"]
    search_fields = ["actor_name", "target_name", "group_name", "reason"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
