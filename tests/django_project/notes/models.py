from django.db import models


class Note(models.Model):
    title = models.CharField(max_length=100)
    body = models.TextField(blank=True)
    created = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ("-created", "-id")

    def __str__(self) -> str:
        return self.title


class AuditEntry(models.Model):
    """What the receivers in notes.receivers recorded about a note."""

    note = models.ForeignKey(Note, on_delete=models.CASCADE, related_name="audit")
    message = models.CharField(max_length=200)

    def __str__(self) -> str:
        return self.message
