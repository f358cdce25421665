"""A small demo community to try Kindred with. Safe to run again: it changes nothing twice."""

from __future__ import annotations

from datetime import time

from django.core.management.base import BaseCommand
from django.db import transaction
from django.test.utils import override_settings

from community import services
from community.models import Group, Membership
from community.services.demo import ensure_user

DEMO_PASSWORD = "kindred-demo-2026"  # noqa: S105 - published demo login, local use only

QUIET_MAIL = "django.core.mail.backends.dummy.EmailBackend"

PEOPLE = [
    ("staff@demo.kindred.invalid", "Safeguarding Lead", True),
    ("founder@demo.kindred.invalid", "Fiona", False),
    ("moderator@demo.kindred.invalid", "Mo", False),
    ("welcomer@demo.kindred.invalid", "Wren", False),
    ("member@demo.kindred.invalid", "Sam", False),
    ("priya@demo.kindred.invalid", "Priya", False),
    ("pending@demo.kindred.invalid", "Alex", False),
    ("newcomer@demo.kindred.invalid", "Olive", False),
]

GROUPS = [
    {
        "slug": "type-1-diabetes",
        "name": "Type 1 Diabetes Peer Support",
        "kind": Group.Kind.CONDITION,
        "condition": "Type 1 diabetes",
        "privacy": Group.Privacy.APPROVAL,
        "description": "For adults living with type 1 diabetes: hypos, pumps, sensors, "
        "work, travel and everything in between.",
        "welcome_message": "Welcome! Say hello in the introductions and tell us as much or "
        "as little as you like.",
        "questions": [
            "What would you like to get from the group?",
            "Do you live with type 1 diabetes yourself, or care for someone who does?",
        ],
        "signposts": [{
            "topic": "health", "name": "Diabetes UK helpline", "phone": "0345 123 2399",
            "hours": "Monday to Friday, 9am to 6pm",
            "description": "Confidential advice about living with diabetes.",
            "url": "https://www.diabetes.org.uk/how_we_help/helpline",
            "who_for": "Anyone affected by diabetes.",
        }],
        "resources": [{
            "title": "Sick day rules: a reminder to check with your team",
            "body": "When you're unwell your blood sugar can run high even if you're not "
                    "eating. Your diabetes team can give you your own sick day rules: ask "
                    "them at your next review, and keep them somewhere easy to find.",
        }],
    },
    {
        "slug": "copd-breathe-easy-glasgow",
        "name": "COPD Breathe Easy Glasgow",
        "kind": Group.Kind.CONDITION,
        "condition": "COPD",
        "format": Group.Format.LOCAL,
        "town": "Glasgow",
        "privacy": Group.Privacy.APPROVAL,
        "description": "We meet on the first Tuesday of the month in the West End and keep "
        "in touch here between meetings.",
        "welcome_message": "Lovely to have you. Our next meeting is on the group page.",
        "questions": ["Which part of Glasgow or the west of Scotland are you in?"],
        "signposts": [{
            "topic": "health", "name": "Chest Heart & Stroke Scotland advice line",
            "phone": "0808 801 0899", "hours": "Monday to Friday, 9am to 4pm",
            "description": "Free advice from nurses about lung and heart conditions.",
            "url": "https://www.chss.org.uk/", "who_for": "Anyone in Scotland.",
        }],
        "resources": [{
            "title": "Asthma + Lung UK: living with COPD",
            "url": "https://www.asthmaandlung.org.uk/conditions/copd-chronic-obstructive-"
                   "pulmonary-disease",
        }],
    },
    {
        "slug": "carers-corner",
        "name": "Carers' Corner",
        "kind": Group.Kind.CARERS,
        "privacy": Group.Privacy.OPEN,
        "description": "For anyone caring for a partner, parent, child or friend with a "
        "long-term condition.",
        "welcome_message": "Welcome. Take a breath: this space is for you.",
        "questions": [],
    },
    {
        "slug": "chronic-pain-circle",
        "name": "Chronic Pain Circle",
        "kind": Group.Kind.CONDITION,
        "condition": "Chronic pain",
        "privacy": Group.Privacy.INVITE,
        "description": "A small, invite-only circle for people living with chronic pain.",
        "welcome_message": "Welcome to the circle.",
        "questions": [],
    },
    {
        "slug": "living-well-together",
        "name": "Living Well Together",
        "kind": Group.Kind.GENERIC,
        "privacy": Group.Privacy.OPEN,
        "description": "General peer support for anyone living with any long-term "
        "condition.",
        "welcome_message": "Welcome! Everyone here knows what it's like.",
        "questions": [],
    },
]


def _next_first_tuesday(today):
    """The first Tuesday of next month (always in the future, whatever today is)."""
    from datetime import timedelta

    month = (today.replace(day=1) + timedelta(days=32)).replace(day=1)
    return month + timedelta(days=(1 - month.weekday()) % 7)


def _next_thursday(today):
    from datetime import timedelta

    return today + timedelta(days=(3 - today.weekday()) % 7 or 7)


# One meeting per demo group that has one: the service's own arguments, plus the first date.
DEMO_MEETINGS = {
    "copd-breathe-easy-glasgow": {
        "title": "Breathe Easy monthly meeting",
        "description": "Tea, a chat and a gentle breathing exercise. Newcomers very welcome: "
        "come along and just listen if you like.",
        "first_date": _next_first_tuesday,
        "start_time": time(14, 0), "end_time": time(15, 30),
        "recurrence": "monthly", "time_zone": "Europe/London",
        "venue_name": "Hillhead Library community room",
        "venue_address": "348 Byres Road\nGlasgow G12 8AP",
        "step_free": True, "hearing_loop": True,
        "parking": "Pay and display on Byres Road; two blue badge spaces at the back.",
        "accessibility_notes": "Lift to the community room. Accessible toilet on the same "
        "floor. Chairs with arms.",
        "capacity": 25,
    },
    "type-1-diabetes": {
        "title": "Fortnightly evening video call",
        "description": "An hour to catch up, swap tips and have a laugh. Cameras optional.",
        "first_date": _next_thursday,
        "start_time": time(19, 30), "end_time": time(20, 30),
        "recurrence": "fortnightly", "time_zone": "Europe/London",
        "online_url": "https://meet.example.org/kindred-type-1",
        "accessibility_notes": "Live captions are switched on. You can join by phone too.",
    },
}


class Command(BaseCommand):
    help = "Load the demo community (idempotent) and print the demo logins."

    def handle(self, *args, **options):
        # Demo members don't need the welcome emails the services send.
        with override_settings(EMAIL_BACKEND=QUIET_MAIL), transaction.atomic():
            people = {
                name: ensure_user(email=email, display_name=name, password=DEMO_PASSWORD,
                                  is_staff=staff)
                for email, name, staff in PEOPLE
            }
            for spec in GROUPS:
                self._ensure_group(spec, people)
        self.stdout.write(self.style.SUCCESS("Demo community ready. Logins (password "
                                             f"'{DEMO_PASSWORD}' for all):"))
        roles = {
            "Safeguarding Lead": "site staff",
            "Fiona": "founder and owner of every demo group",
            "Mo": "moderator",
            "Wren": "welcomer",
            "Sam": "member",
            "Priya": "member",
            "Alex": "has a join request waiting in Type 1 Diabetes Peer Support",
            "Olive": "newcomer, in no groups yet",
        }
        for email, name, _staff in PEOPLE:
            self.stdout.write(f"  {email:34} {name:18} {roles[name]}")

    def _ensure_group(self, spec: dict, people: dict) -> Group:
        founder, staff = people["Fiona"], people["Safeguarding Lead"]
        group = Group.objects.filter(slug=spec["slug"]).first()
        if group is None:
            group = services.create_group(
                actor=founder,
                slug=spec["slug"],
                name=spec["name"],
                description=spec["description"],
                kind=spec["kind"],
                condition=spec.get("condition", ""),
                format=spec.get("format", Group.Format.ONLINE),
                town=spec.get("town", ""),
                privacy=spec["privacy"],
                rules="We share experience, not medical advice.\nBe kind. Nobody is judged "
                "here.\nWhat is said in the group stays in the group.",
                welcome_message=spec["welcome_message"],
                questions=spec["questions"],
            )
        if group.status == Group.Status.PENDING:
            services.approve_group(actor=staff, group=group, reason="Demo group.")
            group.refresh_from_db()
        for name, role in (("Mo", "moderator"), ("Wren", "welcomer"), ("Sam", "member"),
                           ("Priya", "member")):
            self._ensure_member(group, people[name], role, founder)
        self._ensure_conversation(group, people)
        self._ensure_help(group, spec, people["Fiona"])
        self._ensure_meetings(group, people)
        if spec["slug"] == "type-1-diabetes":
            alex = people["Alex"]
            if not Membership.objects.filter(user=alex, group=group).exists():
                services.request_membership(
                    actor=alex, group=group,
                    answers=["Someone to talk to who gets it.", "Myself, for 12 years."],
                )
        return group

    def _ensure_conversation(self, group: Group, people: dict) -> None:
        """A little chat history and a forum thread, so the demo doesn't feel empty."""
        from forums.models import Category, Thread
        from forums.services import reply, start_thread

        lines = [
            ("Sam", "Morning all. Rough night, but the tea is helping."),
            ("Priya", "Sending support, Sam. Anyone else up early?"),
            ("Wren", "Welcome to everyone new this week! Say hello when you're ready."),
        ]
        for n, (name, body) in enumerate(lines):
            services.post_chat_message(actor=people[name], group=group, body=body,
                                       client_id=f"demo-{group.slug}-{n}")
        if Thread.objects.filter(group=group).exists():
            return
        category = Category.objects.filter(group=group).first()
        thread = start_thread(
            actor=people["Sam"], group=group, category=category,
            title="What helped you most in your first month?",
            body="I'm quite new to all this. What made the biggest difference for you "
            "early on?",
        )
        reply(actor=people["Priya"], thread=thread,
              body="Honestly, finding this group. And writing my questions down before "
              "appointments.")

    def _ensure_help(self, group: Group, spec: dict, founder) -> None:
        """The group's own signposts and a first resource (demo charity details)."""
        from community.models import Resource, Signpost
        from community.services.signposts import save_group_signpost, save_resource

        for fields in spec.get("signposts", []):
            if not Signpost.objects.filter(group=group, name=fields["name"]).exists():
                save_group_signpost(actor=founder, group=group, **fields)
        for fields in spec.get("resources", []):
            if not Resource.objects.filter(group=group, title=fields["title"]).exists():
                save_resource(actor=founder, group=group, **fields)

    def _ensure_meetings(self, group: Group, people: dict) -> None:
        """Demo meetings (see DEMO_MEETINGS), each made once, with a couple of answers."""
        from datetime import timedelta

        from django.utils import timezone

        from community import recurrence
        from community.models import Meeting
        from community.services.meetings import reply, schedule_meeting

        spec = DEMO_MEETINGS.get(group.slug)
        if spec is None or Meeting.objects.filter(group=group, title=spec["title"]).exists():
            return
        today = timezone.localdate()
        first = spec["first_date"](today)
        meeting = schedule_meeting(actor=people["Fiona"], group=group,
                                   **{k: v for k, v in spec.items() if k != "first_date"},
                                   date=first)
        when = recurrence.next_occurrence(meeting, timezone.now())
        if when is not None and when > timezone.now() + timedelta(hours=1):
            reply(actor=people["Sam"], meeting=meeting, occurrence=when, answer="going")
            reply(actor=people["Priya"], meeting=meeting, occurrence=when, answer="maybe")

    def _ensure_member(self, group: Group, person, role: str, founder) -> None:
        row = Membership.objects.filter(user=person, group=group).first()
        if row is None or row.status != Membership.Status.APPROVED:
            if group.is_open:
                row = services.join_open_group(actor=person, group=group)
            elif group.is_invite_only:
                invite = services.create_invite(actor=founder, group=group, note="demo",
                                                expires_in_days=1, max_uses=1)
                row = services.join_with_invite(actor=person, token=invite.token)
            else:
                answers = ["Peer support.", "Myself."][: group.questions.count()]
                answers += ["Demo answer."] * (group.questions.count() - len(answers))
                row = services.request_membership(actor=person, group=group, answers=answers)
                row = services.approve_membership(actor=founder, membership=row)
        if row.role != role:
            services.set_role(actor=founder, membership=row, role=role)
