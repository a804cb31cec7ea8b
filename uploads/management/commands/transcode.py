"""(Re)transcode videos through the pipeline: transcode ID [ID ...] | --failed | --all [--inline]."""

from django.core.management.base import BaseCommand, CommandError

from feed.models import Video
from uploads import pipeline, services


class Command(BaseCommand):
    help = "Re-run the transcode pipeline for videos (queued for workers unless --inline)."

    def add_arguments(self, parser):
        parser.add_argument("ids", nargs="*", type=int)
        parser.add_argument("--failed", action="store_true", help="every failed video")
        parser.add_argument("--all", action="store_true", help="every video (e.g. after a ladder change)")
        parser.add_argument("--inline", action="store_true", help="transcode here instead of queueing")
        parser.add_argument("--dry-run", action="store_true")

    def handle(self, *args, ids, failed, all, inline, dry_run, **opts):
        qs = Video.objects.all()
        if ids:
            qs = qs.filter(pk__in=ids)
        elif failed:
            qs = qs.filter(status=Video.Status.FAILED)
        elif not all:
            raise CommandError("Give video ids, --failed or --all")
        for video in qs.order_by("pk"):
            if dry_run:
                self.stdout.write(f"would transcode {video.pk} ({video.status})")
                continue
            services.requeue_transcode(video, queue=not inline)
            if inline:
                video = pipeline.transcode_video(video.pk) or video
                self.stdout.write(f"video {video.pk}: {video.status} in {video.transcode_seconds}s")
            else:
                self.stdout.write(f"video {video.pk}: queued")
