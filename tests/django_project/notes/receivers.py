"""Signal receivers, connected when this module is imported (by notes.views)."""

from django.db.models.signals import post_save
from django.dispatch import receiver

from notes.models import AuditEntry, Note


@receiver(post_save, sender=Note)
def audit_new_note(sender: type[Note], instance: Note, created: bool, **kwargs: object) -> None:
    if created:
        AuditEntry.objects.create(note=instance, message=f"created {instance.title}")
