from django.contrib import admin, messages

from community.admin import SiteStaffCanEdit, SiteStaffCanView
from moderation.models import AuditEntry, ScreeningRule
from moderation.services import watchwords


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


class SiteOrGroupFilter(admin.SimpleListFilter):
    title = "whose rule"
    parameter_name = "whose"

    def lookups(self, request, model_admin):
        return [("site", "Kindred's site rules"), ("group", "A group's watched words")]

    def queryset(self, request, queryset):
        if self.value() == "site":
            return queryset.filter(group__isnull=True)
        if self.value() == "group":
            return queryset.filter(group__isnull=False)
        return queryset


@admin.register(ScreeningRule)
class ScreeningRuleAdmin(SiteStaffCanEdit, admin.ModelAdmin):
    """Site staff keep the screening rules. The model's `clean` checks each rule compiles,
    stays quick and catches its test phrase; a save marks the rule edited (a later pack
    load leaves it alone), is audited, and refreshes every process's compiled rules."""

    list_display = ["key", "category", "action", "enabled", "edited", "group"]
    list_filter = [SiteOrGroupFilter, "category", "action", "enabled", "edited", "kind"]
    list_select_related = ["group"]
    search_fields = ["key", "pattern", "description", "test_phrase", "group__name"]
    readonly_fields = ["edited", "created_by", "created_at", "updated_at"]
    autocomplete_fields = ["group"]
    actions = ["turn_on", "turn_off"]
    fieldsets = [
        (None, {"fields": ["key", "group", "category", "action", "enabled", "description"]}),
        ("What it matches", {"fields": ["kind", "pattern", "unless", "requires", "scope",
                                        "guards", "validator", "concern", "test_phrase"]}),
        ("History", {"fields": ["edited", "created_by", "created_at", "updated_at"]}),
    ]

    def get_readonly_fields(self, request, obj=None):
        # A pack rule's key (e.g. "spam.make-money") names it in the shipped pack, so a
        # later load finds it; it is not a slug and is never changed here.
        if obj is not None:
            return [*self.readonly_fields, "key", "group"]
        return self.readonly_fields

    def save_model(self, request, obj, form, change):
        watchwords.save_site_rule(actor=request.user, rule=obj, adding=not change)

    def delete_model(self, request, obj):
        watchwords.delete_site_rules(actor=request.user, rules=[obj])

    def delete_queryset(self, request, queryset):
        watchwords.delete_site_rules(actor=request.user, rules=list(queryset))

    @admin.action(description="Turn on the selected rules")
    def turn_on(self, request, queryset):
        done = watchwords.set_site_rules_enabled(actor=request.user, rules=list(queryset),
                                                 enabled=True)
        self.message_user(request, f"{done} rule{'s' if done != 1 else ''} turned on.",
                          messages.SUCCESS)

    @admin.action(description="Turn off the selected rules")
    def turn_off(self, request, queryset):
        done = watchwords.set_site_rules_enabled(actor=request.user, rules=list(queryset),
                                                 enabled=False)
        self.message_user(request, f"{done} rule{'s' if done != 1 else ''} turned off.",
                          messages.SUCCESS)
