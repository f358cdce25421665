"""Template helpers for accessible forms and friendly wording."""

from __future__ import annotations

from django import template

register = template.Library()


@register.filter
def described_widget(bound_field):
    """Render a field's widget tied to its help text and errors for screen readers."""
    ids = []
    if bound_field.help_text:
        ids.append(f"{bound_field.auto_id}-help")
    if bound_field.errors:
        ids.append(f"{bound_field.auto_id}-error")
    attrs = {}
    if ids:
        attrs["aria-describedby"] = " ".join(ids)
    if bound_field.errors:
        attrs["aria-invalid"] = "true"
    return bound_field.as_widget(attrs=attrs)


@register.filter
def is_checkbox(bound_field) -> bool:
    return bound_field.widget_type == "checkbox"


@register.filter
def is_radio(bound_field) -> bool:
    return bound_field.widget_type == "radioselect"
