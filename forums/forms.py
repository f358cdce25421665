"""Forum forms: labelled fields; services do the deciding."""

from __future__ import annotations

from django import forms

from forums.models import Category, Reaction
from forums.services import MAX_BODY, MAX_TITLE, MAX_WARNING

WARNING_HELP = ("If your post talks about something upsetting, say what, for "
                "example \u201cmentions self-harm\u201d. Others will choose whether to open it.")
BODY_HELP = "You can use **bold**, *italics*, lists and links. Pictures and HTML are not shown."


class PostFields(forms.Form):
    body = forms.CharField(
        label="Your post", max_length=MAX_BODY, help_text=BODY_HELP,
        widget=forms.Textarea(attrs={"rows": 8}),
        error_messages={"required": "Please write something before posting."},
    )
    content_warning = forms.CharField(
        label="Content warning", max_length=MAX_WARNING, required=False, help_text=WARNING_HELP
    )


class ThreadForm(PostFields):
    title = forms.CharField(
        label="Title", max_length=MAX_TITLE,
        error_messages={"required": "Please give your thread a title."},
    )
    category = forms.ModelChoiceField(label="Category", queryset=Category.objects.none(),
                                      empty_label=None)
    field_order = ["title", "category", "body", "content_warning"]

    def __init__(self, *args, group=None, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["category"].queryset = Category.objects.filter(group=group)


class ReplyForm(PostFields):
    body = forms.CharField(
        label="Your reply", max_length=MAX_BODY, help_text=BODY_HELP,
        widget=forms.Textarea(attrs={"rows": 6}),
        error_messages={"required": "Please write something before posting."},
    )


class EditForm(PostFields):
    title = forms.CharField(label="Title", max_length=MAX_TITLE, required=False)
    field_order = ["title", "body", "content_warning"]

    def __init__(self, *args, with_title=False, **kwargs):
        super().__init__(*args, **kwargs)
        if not with_title:
            del self.fields["title"]
        else:
            self.fields["title"].required = True


class CategoryForm(forms.Form):
    name = forms.CharField(label="Category name", max_length=60)
    description = forms.CharField(label="What goes here?", max_length=200, required=False)


class SearchForm(forms.Form):
    q = forms.CharField(label="Search the forum", max_length=200)


class ReactionForm(forms.Form):
    kind = forms.ChoiceField(choices=Reaction.Kind.choices)
