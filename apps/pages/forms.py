from django import forms

from apps.launches.models import ActivityStatus


class ActivityForm(forms.Form):
    status = forms.ChoiceField(choices=ActivityStatus.choices)
    owner = forms.CharField(max_length=200, required=False)
