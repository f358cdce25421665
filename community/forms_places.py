"""Town fields: what a person typed (or picked) turned into one gazetteer place.

Shared by every form with a town (profile, group, "near" search, start a local group) so
the wording of "we couldn't find that town" and its suggestions is the same everywhere.
Without JavaScript the typed text is resolved here; with it, `static/js/places.js` also
sends the picked place's id as `<field>_place`, and a suggestion button sends
`<field>_pick`.
"""

from __future__ import annotations

from django import forms

from community import gazetteer

RADIUS_CHOICES = [("10", "10 miles"), ("25", "25 miles"), ("50", "50 miles"),
                  ("100", "100 miles")]
DEFAULT_RADIUS = 25


def autocomplete_attrs(field: str) -> dict[str, str]:
    """Widget attributes that let places.js turn the box into an accessible combobox."""
    return {
        "data-place-autocomplete": "/places/",
        "data-place-id-name": f"{field}_place",
        "autocomplete": "off",
        "spellcheck": "false",
    }


def town_field(label: str, *, required: bool = False, help_text: str = "",
               field: str = "town") -> forms.CharField:
    return forms.CharField(
        label=label, max_length=100, required=required, help_text=help_text,
        widget=forms.TextInput(attrs=autocomplete_attrs(field)),
        error_messages={"required": "Please type the name of a town or village."},
    )


def not_found_message(suggestions: list[gazetteer.Place]) -> str:
    if not suggestions:
        return ("We couldn't find that town. Please check the spelling, or try the "
                "nearest bigger town.")
    names = [p.label for p in suggestions]
    listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
    return (f"We couldn't find that town. Please check the spelling, or choose a "
            f"nearby place: {listed}.")


def place_from_form(form: forms.Form, field: str, text: str) -> gazetteer.Place | None:
    """The place meant: a suggestion button, the id of the place picked from the list
    (while the box still shows its name), or the typed text. None for an empty box.
    Raises a ValidationError and leaves `form.town_suggestions[field]` when not found."""
    data = form.data
    picked = gazetteer.get(data.get(form.add_prefix(f"{field}_pick")))
    if picked is not None:
        return picked
    text = (text or "").strip()
    if not text:
        return None
    chosen = gazetteer.get(data.get(form.add_prefix(f"{field}_place")))
    if chosen is not None and gazetteer.normalise(text) in {
        gazetteer.normalise(chosen.label), gazetteer.normalise(chosen.name)
    }:
        return chosen
    place = gazetteer.resolve(text)
    if place is not None:
        return place
    suggestions = gazetteer.suggest(text)
    if not hasattr(form, "town_suggestions"):
        form.town_suggestions = {}
    form.town_suggestions[field] = suggestions
    raise forms.ValidationError(not_found_message(suggestions), code="unknown_town")


def clean_town(form: forms.Form, field: str) -> str:
    """For a `clean_<field>` method: the place's label ("Fort William, Scotland"), which
    the services resolve exactly, or "" when left empty. Keeps the place on the form."""
    place = place_from_form(form, field, form.cleaned_data.get(field, ""))
    if not hasattr(form, "places"):
        form.places = {}
    form.places[field] = place
    return place.label if place else ""
