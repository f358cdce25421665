from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin

from community import services
from community.models import Group, Invite, JoinQuestion, Membership, Notification, User


@admin.register(User)
class UserAdmin(BaseUserAdmin):
    ordering = ["email"]
    list_display = ["email", "display_name", "is_staff", "is_active", "date_joined"]
    search_fields = ["email", "display_name"]
    fieldsets = [
        (None, {"fields": ["email", "password"]}),
        ("Profile", {"fields": ["display_name", "about", "home_town", "appear_offline"]}),
        ("Permissions", {"fields": ["is_active", "is_staff", "is_superuser", "groups"]}),
        ("Dates", {"fields": ["last_login", "date_joined"]}),
    ]
    add_fieldsets = [
        (None, {"classes": ["wide"], "fields": ["email", "display_name", "password1",
                                                  "password2"]}),
    ]
    filter_horizontal = ["groups"]


class JoinQuestionInline(admin.TabularInline):
    model = JoinQuestion
    extra = 0
    max_num = 5


class SiteStaffCanView:
    """Site staff (the safeguarding team) read these without per-model permissions."""

    def has_module_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_view_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff


@admin.register(Group)
class GroupAdmin(SiteStaffCanView, admin.ModelAdmin):
    list_display = ["name", "slug", "kind", "privacy", "format", "status", "created_at"]
    list_filter = ["status", "kind", "privacy", "format"]
    search_fields = ["name", "slug", "condition", "town"]
    inlines = [JoinQuestionInline]
    actions = ["approve_groups", "decline_groups"]

    @admin.action(description="Approve the selected groups")
    def approve_groups(self, request, queryset):
        for group in queryset.filter(status=Group.Status.PENDING):
            services.approve_group(actor=request.user, group=group)
        self.message_user(request, "The groups are approved.", messages.SUCCESS)

    @admin.action(description="Decline the selected groups")
    def decline_groups(self, request, queryset):
        for group in queryset.filter(status=Group.Status.PENDING):
            services.decline_group(actor=request.user, group=group)
        self.message_user(request, "The groups are declined.", messages.SUCCESS)


@admin.register(Membership)
class MembershipAdmin(SiteStaffCanView, admin.ModelAdmin):
    """Read-only: membership changes go through the group's pages so they are audited."""

    list_display = ["user", "group", "status", "role", "requested_at", "joined_at"]
    list_filter = ["status", "role"]
    search_fields = ["user__display_name", "user__email", "group__name"]
    list_select_related = ["user", "group"]

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


@admin.register(Invite)
class InviteAdmin(admin.ModelAdmin):
    list_display = ["group", "note", "created_by", "created_at", "expires_at", "uses",
                    "revoked_at"]
    list_select_related = ["group", "created_by"]
    readonly_fields = ["token", "uses"]

    def has_add_permission(self, request):
        return False


@admin.register(Notification)
class NotificationAdmin(admin.ModelAdmin):
    list_display = ["user", "kind", "text", "created_at", "read_at"]
    list_select_related = ["user"]
    list_filter = ["kind"]
