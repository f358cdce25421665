"""What the writer is told when screening has something to say: a gentle prompt before
sending, a plain reason when something can't be sent, and a private help panel after.

Services call `outcome_for` with a verdict; it raises `ScreeningPrompt` (nothing is
stored, the writer keeps their text and may send anyway) or `ScreeningBlocked`, or says
whether to hold the item and which panel to show. The chat socket turns these into
`message.prompt`, `error` (code `blocked`) and `signpost` frames; pages show the same
words in a panel.
"""

from __future__ import annotations

from dataclasses import dataclass

from moderation.screening import Verdict

SESSION_KEY = "kindred_signpost"

PANELS = {
    ("crisis", "self"): (
        "You don't have to go through this alone",
        "It sounds like things are really hard right now. You can talk to someone at any "
        "time, for free, and they will listen. If your life is at risk right now, call 999 "
        "or go to A&E. Your message has been posted, and the group's moderators will look "
        "out for you.",
    ),
    ("crisis", "other"): (
        "You're not alone in worrying about someone",
        "If they are in danger right now, call 999. These services can help them, and you "
        "too. Your message has been posted, and the group's moderators will see it.",
    ),
    ("unsafe_advice", "self"): (
        "Peer support isn't medical advice",
        "Everyone's treatment is different. People should talk to their GP, nurse or "
        "pharmacist before changing how they take any medicine.",
    ),
}
PROMPTS = {
    "unsafe_advice": (
        "Before you send this",
        "Peer support isn't medical advice: people should talk to their GP, nurse or "
        "pharmacist before changing treatment. You can edit your message, or send it "
        "anyway and a moderator will take a look.",
    ),
    "privacy": (
        "Keep contact details private?",
        "Your message seems to include a phone number, email, address or NHS number. "
        "Everyone in the group can see it. You can edit it out, or send it anyway.",
    ),
    "abuse": (
        "Before you send this",
        "This might hurt someone. You can change it, or send it anyway and a moderator will "
        "take a look.",
    ),
    "spam": (
        "Before you send this",
        "This looks like an advert. You can change it, or send it anyway and a moderator "
        "will take a look.",
    ),
    "crisis": PANELS[("crisis", "self")],
}
BLOCKED = {
    "abuse": "This can't be posted: it contains words that hurt people. Please change it. "
             "What you wrote is still in the box.",
    "spam": "This can't be posted: it looks like an advert or a money-making scheme. "
            "What you wrote is still in the box.",
}
BLOCKED_DEFAULT = ("This can't be posted as it is. Please change it. What you wrote is "
                   "still in the box.")


class ScreeningPrompt(Exception):  # noqa: N818 (it is a question, not an error)
    """Ask the writer to think again; nothing has been stored."""

    def __init__(self, verdict: Verdict):
        self.verdict = verdict
        self.reason = verdict.reason
        self.title, self.text = PROMPTS.get(self.reason, PROMPTS["abuse"])
        super().__init__(self.text)

    @property
    def resources(self) -> list[dict]:
        return list(self.verdict.signposts)

    def frame(self, client_id: str | None) -> dict:
        return {"type": "message.prompt", "client_id": client_id, "reason": self.reason,
                "title": self.title, "text": self.text,
                "resources": list(self.verdict.signposts)}


class ScreeningBlocked(Exception):  # noqa: N818 (a refusal with a reason, like a 4xx)
    def __init__(self, verdict: Verdict):
        self.verdict = verdict
        self.reason = verdict.reason
        self.detail = BLOCKED.get(self.reason, BLOCKED_DEFAULT)
        super().__init__(self.detail)


@dataclass(frozen=True)
class Outcome:
    verdict: Verdict
    held: bool = False
    needs_case: bool = False

    @property
    def panel(self) -> dict | None:
        """The private help panel after sending (crisis and unsafe advice)."""
        reason = self.verdict.reason
        if reason not in ("crisis", "unsafe_advice") or not self.needs_case:
            return None
        concern = self.verdict.concern if reason == "crisis" else "self"
        title, text = PANELS[(reason, concern)]
        return {"type": "signpost", "reason": reason, "title": title, "text": text,
                "resources": list(self.verdict.signposts)}


def outcome_for(verdict: Verdict, group, *, confirm: bool) -> Outcome:
    """What to do with a verdict for text about to be stored in `group`."""
    if verdict.action == "allow":
        return Outcome(verdict)
    if verdict.action == "block":
        raise ScreeningBlocked(verdict)
    if verdict.action == "prompt" and not confirm:
        raise ScreeningPrompt(verdict)
    held = verdict.action == "hold" or (
        verdict.action == "prompt" and "unsafe_advice" in verdict.categories
        and bool(getattr(group, "hold_unsafe_advice", False))
    )
    return Outcome(verdict, held=held and not verdict.is_crisis, needs_case=True)


def remember_panel(request, panel: dict | None) -> None:
    """Show the panel on the next page (forms that redirect after saving)."""
    if panel:
        request.session[SESSION_KEY] = {k: panel[k] for k in ("reason", "title", "text",
                                                              "resources")}
