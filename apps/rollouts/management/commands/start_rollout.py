from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from apps.launches.models import Launch
from apps.rollouts.services import RolloutRefused, start_run


class Command(BaseCommand):
    help = (
        "Start a rollout run of a launch on behalf of one of its launch admins (the portal moves "
        "on when a stage passes: for Argo Rollouts, or with no deploy tool)."
    )

    def add_arguments(self, parser):
        parser.add_argument("slug", help="the launch's slug")
        parser.add_argument("--admin", required=True, help="the launch admin's username")

    def handle(self, *args, slug: str, admin: str, **options):
        launch = Launch.objects.filter(slug=slug).first()
        user = get_user_model().objects.filter(username=admin).first()
        if launch is None or user is None:
            raise CommandError(f"no launch {slug!r}" if launch is None else f"no user {admin!r}")
        try:
            run = start_run(launch=launch, actor=user)
        except RolloutRefused as refused:
            raise CommandError(refused.reason) from None
        self.stdout.write(f"run {run.pk} started: stage {run.current_stage().name}")
