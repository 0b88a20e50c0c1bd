from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render

from notes import receivers  # noqa: F401 (connects the receivers)
from notes.forms import NoteForm
from notes.models import Note


def note_list(request: HttpRequest) -> HttpResponse:
    if request.method == "POST":
        form = NoteForm(request.POST)
        if form.is_valid():
            note = form.save()
            return redirect("notes:detail", pk=note.pk)
    else:
        form = NoteForm()
    notes = Note.objects.all()[:20]
    return render(request, "notes/note_list.html", {"notes": notes, "form": form})


def note_detail(request: HttpRequest, pk: int) -> HttpResponse:
    note = get_object_or_404(Note, pk=pk)
    return render(request, "notes/note_detail.html", {"note": note})
