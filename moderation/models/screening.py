"""Screening rules as data: the site pack (shipped in `moderation/rulepacks/`, loaded by
migration, edited by site staff in the admin) and each group's own watched words."""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.utils import timezone


class ScreeningRule(models.Model):
    class Category(models.TextChoices):
        CRISIS = "crisis", "Someone may be in crisis"
        UNSAFE_ADVICE = "unsafe_advice", "Unsafe health advice"
        PRIVACY = "privacy", "Personal details"
        ABUSE = "abuse", "Abuse or harassment"
        SPAM = "spam", "Spam or advertising"

    class Action(models.TextChoices):
        PROMPT = "prompt", "Ask the writer to think again first"
        FLAG = "flag", "Publish, and open a case for moderators"
        HOLD = "hold", "Hold it until a moderator has looked"
        BLOCK = "block", "Don't send it, and say why"

    class Kind(models.TextChoices):
        PHRASE = "phrase", "Word or phrase"
        PATTERN = "pattern", "Pattern (regular expression on the tidied text)"
        RAW = "raw", "Pattern on the text as typed (digits and punctuation kept)"

    group = models.ForeignKey("community.Group", null=True, blank=True,
                              on_delete=models.CASCADE, related_name="screening_rules",
                              help_text="Empty for the site pack.")
    key = models.SlugField(max_length=80, blank=True,
                           help_text="Site rules: the pack's name for the rule.")
    category = models.CharField(max_length=16, choices=Category.choices)
    action = models.CharField(max_length=8, choices=Action.choices)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.PHRASE)
    pattern = models.TextField(max_length=8000)
    unless = models.TextField(max_length=8000, blank=True,
                              help_text="Skip the rule when this is in the same sentence.")
    requires = models.TextField(max_length=4000, blank=True,
                                help_text="Only when this is found somewhere in the text.")
    scope = models.CharField(max_length=8, default="sentence",
                             choices=[("sentence", "Within one sentence"),
                                      ("message", "Across the whole message")])
    guards = models.CharField(max_length=60, blank=True,
                              help_text="Comma-separated: negated, clinician.")
    validator = models.CharField(max_length=12, blank=True,
                             help_text="For raw patterns: phone, email, postcode, address, nhs.")
    concern = models.CharField(max_length=8, default="self",
                               choices=[("self", "The writer"), ("other", "Someone else")])
    description = models.CharField(max_length=200, blank=True,
                                   help_text="Why this matters, shown to moderators.")
    test_phrase = models.CharField(max_length=300, blank=True,
                                   help_text="A phrase the rule must catch.")
    enabled = models.BooleanField(default=True)
    edited = models.BooleanField(default=False, help_text="Changed by staff: a later pack "
                                 "load leaves it alone.")
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True,
                                   on_delete=models.SET_NULL, related_name="+")
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["category", "key", "id"]
        constraints = [
            models.UniqueConstraint(fields=["key"], condition=models.Q(group__isnull=True),
                                    name="screening_site_rule_key"),
        ]
        indexes = [models.Index(fields=["group", "enabled"], name="screening_rule_group")]

    def __str__(self) -> str:
        return self.key or f"{self.get_kind_display()}: {self.pattern[:40]}"

    def as_rule(self):
        from moderation.screening import Rule, phrase_pattern

        text = phrase_pattern(self.pattern) if self.kind == self.Kind.PHRASE else self.pattern
        return Rule(
            key=self.key or f"group-{self.pk}", category=self.category, action=self.action,
            pattern="" if self.kind == self.Kind.RAW else text,
            raw=text if self.kind == self.Kind.RAW else "",
            check=self.validator, unless=self.unless, concern=self.concern,
            requires=self.requires, scope=self.scope,
            guards=tuple(g.strip() for g in self.guards.split(",") if g.strip()),
            description=self.description or (f"Watched by this group: {self.pattern[:60]}"
                                              if self.group_id else ""),
            test=self.test_phrase, source="group" if self.group_id else "site",
        )

    def clean(self) -> None:
        """A rule must compile, stay quick, and catch its own test phrase."""
        from moderation import screening

        try:
            if self.kind != self.Kind.PHRASE and self.group_id:
                screening.check_user_pattern(self.pattern)
            rule = self.as_rule()
            lexicon = screening.load_pack().lexicon
            ruleset = screening.RuleSet([rule], lexicon)
            if ruleset.errors:
                raise screening.RuleError(ruleset.errors[0][1])
        except screening.RuleError as error:
            raise ValidationError({"pattern": str(error)}) from None
        if self.test_phrase and not ruleset.screen(self.test_phrase).matches:
            raise ValidationError({"test_phrase": "The rule doesn't catch its own test "
                                   "phrase. Check the spelling, or change the phrase."})
