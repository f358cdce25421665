from django import forms
from django.contrib import admin, messages
from django.contrib.auth.admin import UserAdmin as BaseUserAdmin
from django.db import models
from django.utils import timezone

from community import services
from community.models import (
    Group,
    Invite,
    JoinQuestion,
    Membership,
    Notification,
    Resource,
    Signpost,
    User,
)
from community.models.signposts import RECHECK_AFTER
from community.services import signposts as signpost_services


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


class SiteStaffCanEdit(SiteStaffCanView):
    """Site staff (the safeguarding team) keep these up to date: the site's screening
    rules and signposts. Saves go through services, so each is audited."""

    def has_add_permission(self, request):
        return request.user.is_active and request.user.is_staff

    def has_change_permission(self, request, obj=None):
        return request.user.is_active and request.user.is_staff

    def has_delete_permission(self, request, obj=None):
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
    # Not by email, and no calendar token on show: staff who may not see accounts must
    # not learn which groups an address is in, and a token opens the group's meetings.
    search_fields = ["user__display_name", "group__name"]
    exclude = ["calendar_token"]
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


class NeedsCheckFilter(admin.SimpleListFilter):
    title = "needs re-checking"
    parameter_name = signpost_services.NEEDS_CHECK_PARAM

    def lookups(self, request, model_admin):
        return [("yes", "Needs re-checking (over six months)"), ("no", "Checked recently")]

    def queryset(self, request, queryset):
        limit = timezone.localdate() - RECHECK_AFTER
        if self.value() == "yes":
            return queryset.filter(last_checked__lt=limit)
        if self.value() == "no":
            return queryset.filter(last_checked__gte=limit)
        return queryset


@admin.register(Signpost)
class SignpostAdmin(SiteStaffCanEdit, admin.ModelAdmin):
    list_display = ["name", "region", "group", "topic", "last_checked", "needs_check_now"]
    list_filter = [NeedsCheckFilter, "topic", "region"]
    list_select_related = ["group"]
    search_fields = ["name", "who_for", "description", "phone", "url"]
    readonly_fields = ["check_reminded_at", "updated_by"]
    formfield_overrides = {models.URLField: {"assume_scheme": "https"}}
    autocomplete_fields = ["group"]
    actions = ["mark_checked"]

    @admin.display(boolean=True, description="Needs check")
    def needs_check_now(self, obj):
        return obj.needs_check

    @admin.action(description="Mark as checked today")
    def mark_checked(self, request, queryset):
        done = signpost_services.mark_signposts_checked(actor=request.user,
                                                        signposts=list(queryset))
        self.message_user(request, f"{done} signpost{'s' if done != 1 else ''} marked as "
                          "checked today.", messages.SUCCESS)

    def save_model(self, request, obj, form, change):
        signpost_services.save_signpost_as_staff(actor=request.user, signpost=obj,
                                                 adding=not change)

    def delete_model(self, request, obj):
        signpost_services.delete_signposts_as_staff(actor=request.user, signposts=[obj])

    def delete_queryset(self, request, queryset):
        signpost_services.delete_signposts_as_staff(actor=request.user,
                                                    signposts=list(queryset))


class ResourceAdminForm(forms.ModelForm):
    url = forms.URLField(label="URL", required=False, max_length=200, assume_scheme="https")

    class Meta:
        model = Resource
        fields = ["group", "title", "url", "body", "position"]

    def clean(self):
        data = super().clean()
        if not (data.get("url") or "").strip() and not (data.get("body") or "").strip():
            raise forms.ValidationError("Please give a web address, or write something in "
                                        "the body (or both).")
        return data


@admin.register(Resource)
class ResourceAdmin(SiteStaffCanEdit, admin.ModelAdmin):
    """A group's library. The body is rendered by the service, like everywhere else."""

    list_display = ["title", "group", "url", "added_by", "created_at"]
    list_select_related = ["group", "added_by"]
    search_fields = ["title", "url", "body", "group__name"]
    fields = ["group", "title", "url", "body", "position"]
    autocomplete_fields = ["group"]

    def get_readonly_fields(self, request, obj=None):
        return ["group"] if obj is not None else []

    form = ResourceAdminForm

    def save_model(self, request, obj, form, change):
        saved = signpost_services.save_resource(
            actor=request.user, group=obj.group, resource=obj if change else None,
            title=obj.title, url=obj.url, body=obj.body, position=obj.position)
        obj.pk = saved.pk

    def delete_model(self, request, obj):
        signpost_services.delete_resource(actor=request.user, resource=obj)

    def delete_queryset(self, request, queryset):
        for resource in queryset.select_related("group"):
            signpost_services.delete_resource(actor=request.user, resource=resource)
