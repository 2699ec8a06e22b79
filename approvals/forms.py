"""The approvals pages' forms: the list's filters, the rejection's comment, the approver's note."""

from django import forms

from consumers import records


class ApprovalFilterForm(forms.Form):
    """Filter the waiting requests by the field they change and by the agent who asked."""

    field = forms.ChoiceField(label="Field", required=False)
    agent = forms.ChoiceField(label="Agent", required=False)

    def __init__(self, *args: object, agents: list[str], **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["field"].choices = [("", "Any field"), *records.LABELS.items()]  # type: ignore[attr-defined]
        self.fields["agent"].choices = [("", "Anyone"), *((a, a) for a in agents)]  # type: ignore[attr-defined]


class RejectForm(forms.Form):
    comment = forms.CharField(
        label="Why you reject it",
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
        error_messages={"required": "Say why you reject it: the agent reads your comment."},
        help_text="The agent sees this; it is kept in the audit log.",
    )


class ApproveForm(forms.Form):
    comment = forms.CharField(
        label="Note (optional)",
        required=False,
        max_length=1000,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
