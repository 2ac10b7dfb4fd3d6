"""Forms that read the curator pages' query strings: all state lives in the URL, so any
view can be bookmarked or shared, and a bad value is named instead of ignored. The one
exception is the photo a curator searches with, which arrives in a POST body."""

from django import forms
from django.conf import settings

from webapp.catalogue.importing.images import image_check
from webapp.curation.selectors.artworks import SORTS
from webapp.curation.selectors.collectors import CollectorNotFound, collector_pick

SORT_LABELS = {
    "newest": "Newest listed",
    "oldest": "Oldest listed",
    "price": "Price, low to high",
    "-price": "Price, high to low",
    "title": "Title",
}
STATUS_CHOICES = [("", "Available or sold"), ("available", "Available"), ("sold", "Sold")]
VISITOR_MIN_PICKS = 3
VISITOR_MAX_PICKS = 10


class CatalogueFilterForm(forms.Form):
    q = forms.CharField(required=False, max_length=200, label="Title or artist")
    artist = forms.IntegerField(required=False, min_value=1)
    medium = forms.CharField(required=False, max_length=100)
    tag = forms.CharField(required=False, max_length=100, label="Style tag")
    price_min = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=2, label="Price from"
    )
    price_max = forms.DecimalField(
        required=False, min_value=0, max_digits=12, decimal_places=2, label="Price to"
    )
    status = forms.ChoiceField(required=False, choices=STATUS_CHOICES, label="Availability")
    listed_from = forms.DateField(required=False, label="Listed from")
    listed_to = forms.DateField(required=False, label="Listed until")
    sort = forms.ChoiceField(required=False, choices=[(k, SORT_LABELS[k]) for k in SORTS])

    def clean(self):
        data = super().clean()
        low, high = data.get("price_min"), data.get("price_max")
        if low is not None and high is not None and low > high:
            self.add_error("price_max", "The upper price is below the lower one.")
        first, last = data.get("listed_from"), data.get("listed_to")
        if first and last and first > last:
            self.add_error("listed_to", "This date is before the first one.")
        return data

    def filters(self) -> dict:
        """The valid filters (an invalid field is left out and shown with its error)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            name: data[name]
            for name in self.fields
            if data.get(name) not in (None, "") and name not in self.errors
        }


def clean_metric_name(value: str) -> str:
    """A canonical metric name (recengine.evaluation.metric_name_check), else a form error
    that lists the known ones: an unknown name is refused, never replaced by a default."""
    from recengine.evaluation import metric_name_check

    try:
        return metric_name_check(value)
    except ValueError as error:
        raise forms.ValidationError(str(error)) from None


class PairedTestForm(forms.Form):
    a = forms.IntegerField(min_value=1, label="Job A")
    b = forms.IntegerField(min_value=1, label="Job B")
    metric = forms.CharField(max_length=40)

    def clean_metric(self) -> str:
        return clean_metric_name(self.cleaned_data["metric"])

    def clean(self):
        data = super().clean()
        if data.get("a") and data.get("a") == data.get("b"):
            self.add_error("b", "Choose two different jobs.")
        return data


ALL_DATA = "all"


class MethodsTableForm(forms.Form):
    """Which jobs the Methods table shows (one data group, or all) and its order.

    data: a group key ("<snapshot id>|<split>") from ``data_groups``, or "all"; empty is
    the newest group. sort: "job", "method", "fit", "size" or a canonical metric name,
    "-" first for descending.
    """

    FIELD_SORTS = ("job", "method", "fit", "size")

    data = forms.CharField(required=False, max_length=200)
    sort = forms.CharField(required=False, max_length=50)

    def __init__(self, *args, groups: list[str], **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.groups = groups

    def clean_data(self) -> str:
        value = self.cleaned_data["data"]
        if value and value != ALL_DATA and value not in self.groups:
            raise forms.ValidationError(
                f"No jobs were evaluated on the data “{value}”; choose one of the groups below."
            )
        return value or (self.groups[0] if self.groups else ALL_DATA)

    def clean_sort(self) -> str:
        value = self.cleaned_data["sort"]
        key = value.lstrip("-")
        if key and key not in self.FIELD_SORTS:
            try:
                clean_metric_name(key)
            except forms.ValidationError as error:
                raise forms.ValidationError(
                    f"Cannot sort by “{value}”: {' '.join(error.messages)}"
                ) from None
        return value


COMPARE_K_CHOICES = (5, 10, 20)
COMPARE_DEFAULT_K = 10


class CompareForm(forms.Form):
    """Side by side's choice: one collector (a name, number or catalogue id, see
    collector_pick), ``min_columns`` to ``max_columns`` recommender choices ("m", each a
    value of ``known``) and the list length "k" (an unknown one is the default)."""

    collector = forms.CharField(required=False, max_length=200, label="Collector")

    def __init__(self, *args, known: set[str], min_columns: int, max_columns: int, **kwargs):
        super().__init__(*args, **kwargs)
        self.known, self.min_columns, self.max_columns = known, min_columns, max_columns
        asked = self.data.getlist("m") if hasattr(self.data, "getlist") else []
        self.asked = list(dict.fromkeys(m for m in asked if m))
        self.chosen = [m for m in self.asked if m in known]
        k = str(self.data.get("k", ""))
        self.k = int(k) if k in {str(n) for n in COMPARE_K_CHOICES} else COMPARE_DEFAULT_K

    def clean_collector(self):
        try:
            return collector_pick(self.cleaned_data["collector"])
        except CollectorNotFound as error:
            raise forms.ValidationError(str(error)) from None

    def clean(self):
        data = super().clean()
        for m in self.asked:
            if m not in self.known:
                self.add_error(None, f"“{m}” is not a trained method or a finished job.")
        if not (self.min_columns <= len(self.asked) <= self.max_columns):
            self.add_error(
                None,
                f"Choose {self.min_columns} to {self.max_columns} methods "
                f"(you chose {len(self.asked)}).",
            )
        return data


def parse_ids(values: list[str]) -> tuple[list[int], list[str]]:
    """(distinct positive integers in order, the values that were not one)."""
    ids, bad = [], []
    for value in values:
        value = value.strip()
        if value.isdigit() and 0 < int(value) < 2**63:
            if int(value) not in ids:
                ids.append(int(value))
        elif value:
            bad.append(value)
    return ids, bad


class PhotoSearchForm(forms.Form):
    """A photo to search the catalogue with, checked like an imported image (format,
    pixel limit, decompression bombs); ``photo_bytes`` and ``photo_extension`` hold it
    once valid. refused: (file name, reason) of files the upload handler skipped."""

    # Empty files are checked like any other, so the error names the file.
    photo = forms.FileField(required=False, allow_empty_file=True, label="Photo")
    keep = forms.BooleanField(
        required=False,
        label="Keep this photo",
        help_text="Store it in your folder on the site; otherwise it is read in memory and "
        "forgotten once the results are shown.",
    )

    def __init__(self, *args, refused: list[tuple[str, str]] = (), **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.refused = list(refused)
        self.photo_bytes: bytes | None = None
        self.photo_extension: str | None = None

    def clean_photo(self):
        upload = self.cleaned_data.get("photo")
        if self.refused:
            name, reason = self.refused[0]
            raise forms.ValidationError(f"“{name}” was refused: {reason}.")
        if upload is None:
            raise forms.ValidationError("Choose a photo to search with.")
        data = upload.read()
        extension, refusal = image_check(data, int(settings.VITRINE_MAX_IMAGE_PIXELS))
        if refusal:
            raise forms.ValidationError(f"“{upload.name}” was refused: {refusal}.")
        self.photo_bytes, self.photo_extension = data, extension
        return upload


MAP_COLOURS = [("style", "Style"), ("artist", "Artist"), ("availability", "Availability")]


class CatalogueMapForm(forms.Form):
    """The map's colouring, feature set (a pk among ``feature_sets``; empty: the active
    one) and the collector to highlight (a pk or an external id, looked up by the view)."""

    colour = forms.ChoiceField(required=False, choices=MAP_COLOURS, label="Colour by")
    features = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    collector = forms.CharField(required=False, max_length=100, label="Collector")

    def __init__(self, *args, feature_sets: list, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["features"].choices = [("", "The active feature set")] + [
            (fs.pk, f"#{fs.pk} {fs.name}: {fs.source}"[:120]) for fs in feature_sets
        ]
        self.fields["features"].label = "Features"

    def choices(self) -> dict:
        """The valid values (an invalid one falls back to its default and keeps its error)."""
        self.is_valid()
        data = getattr(self, "cleaned_data", {})
        return {
            "colour": data.get("colour") or MAP_COLOURS[0][0],
            "features": data.get("features"),
            "collector": (data.get("collector") or "").strip(),
        }
