from django import forms

from notes.models import Note


class NoteForm(forms.ModelForm):
    class Meta:
        model = Note
        fields = ("title", "body")
        labels = {"title": "Title"}  # noqa: RUF012 (Django reads it once)

    def clean_title(self) -> str:
        title: str = self.cleaned_data["title"]
        if len(title) < 3:
            raise forms.ValidationError("Too short.")
        return title
