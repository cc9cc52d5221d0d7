from celery import shared_task

from apps.audit.retention import audit_retention_run
from apps.audit.verify import audit_checkpoint_write, audit_seal_and_checkpoint


@shared_task(name="audit.seal", ignore_result=True)
def seal() -> int:
    return audit_seal_and_checkpoint()


@shared_task(name="audit.checkpoint")
def checkpoint() -> int:
    return audit_checkpoint_write().seq


@shared_task(name="audit.retention")
def retention() -> int:
    return audit_retention_run()
