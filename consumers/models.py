from django.conf import settings
from django.db import models

# The documented examples for `title` (order-consumer-rest-api-v2--legacy-.html).
TITLES = [
    "Br",
    "Brigadier",
    "Capt",
    "Colonel",
    "Dame",
    "Dr",
    "Elder",
    "Fr",
    "General",
    "Hon",
    "Judge",
    "Lord",
    "Master",
    "Miss",
    "Mr",
    "Mrs",
    "Ms",
    "Mstr",
    "Prof",
    "Rabbi",
    "Rev",
    "Shaikha",
    "Sheikh",
    "Sir",
    "Sister",
    "Sr",
]


# What each editable field is called on screen: in the form, the audit log and the conflict view.
FIELD_LABELS = {
    "title": "Title",
    "first_name": "First name",
    "last_name": "Last name",
    "gender": "Gender",
    "guest_ref": "Guest",
    "order_item_refs": "Order items",
}


class Gender(models.TextChoices):
    MALE = "male", "Male"
    FEMALE = "female", "Female"
    UNKNOWN = "unknown", "Unknown"


class Order(models.Model):
    """The last copy fetched from CDP of an order, kept for its reference id and status."""

    ref = models.CharField(max_length=64, unique=True)
    reference_id = models.CharField("reference id", max_length=100, blank=True, db_index=True)
    status = models.CharField(max_length=32, blank=True)
    ordered_at = models.DateTimeField(null=True, blank=True)
    raw = models.JSONField("CDP record", default=dict)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["-ordered_at"]

    def __str__(self):
        return self.reference_id or self.ref


class OrderConsumer(models.Model):
    """The last copy fetched from CDP of an order consumer (a traveller or passenger)."""

    ref = models.CharField(max_length=64, unique=True)
    order_ref = models.CharField(max_length=64, db_index=True)
    title = models.CharField(max_length=50, blank=True)
    first_name = models.CharField(max_length=255)
    last_name = models.CharField(max_length=255, db_index=True)
    gender = models.CharField(max_length=16, blank=True)
    guest_ref = models.CharField(max_length=64, blank=True)
    # The linked guest's name when the record was fetched, so the page needs no extra CDP call.
    guest_name = models.CharField(max_length=512, blank=True)
    order_item_refs = models.JSONField(default=list, blank=True)
    cdp_created_at = models.DateTimeField(null=True, blank=True)
    cdp_modified_at = models.DateTimeField(null=True, blank=True)
    # The whole record as CDP last returned it, attributes the form never shows included.
    raw = models.JSONField("CDP record", default=dict)
    fetched_at = models.DateTimeField()

    class Meta:
        ordering = ["last_name", "first_name"]
        indexes = [models.Index(fields=["first_name"], name="consumer_first_name_idx")]

    def __str__(self):
        return f"{self.first_name} {self.last_name}".strip()

    @property
    def display_name(self) -> str:
        return " ".join(part for part in (self.title, self.first_name, self.last_name) if part)


class Push(models.Model):
    """One attempt to save an edit to CDP, recorded before the call so a crash leaves a trace."""

    class Status(models.TextChoices):
        SENDING = "sending", "Sending"
        SUCCEEDED = "succeeded", "Succeeded"
        FAILED = "failed", "Failed"
        CONFLICT = "conflict", "Conflict"

    consumer_ref = models.CharField(max_length=64, db_index=True)
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    # {field: [old, new]} for every field the agent changed.
    changes = models.JSONField(default=dict)
    loaded_modified_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status, default=Status.SENDING)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self):
        return f"push of {self.consumer_ref} ({self.status})"
