"""A database made by an earlier version migrates forward with nothing lost: built from this commit's migration
history up to an earlier state, a row in every table of the app (and its many-to-many tables), then migrated to
the latest state; every row is still there with the values it was given.

``BASE`` is the state of the previous release; move it forward when a release ships (the migrations after it are
the ones this test exercises, e.g. ``0010_support_set_access`` marking existing support sets, ``0013`` turning the
one-image ``SegmentJob`` rows into read-only ``LegacySegmentation`` records)."""
from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

BASE = [("core", "0009_sdov_profile")]
RENAMED = {"SegmentJob": "LegacySegmentation"}  # 0013: the one-image jobs became read-only records
DROPPED_FIELDS = {"SegmentJob": {"celery_id", "started_at"}}  # what only the retired task used
UNFINISHED = "not finished before the upgrade to prediction jobs"  # 0013's reason for a job still queued


def _value(field: models.Field, n: int) -> Any:
    """A valid value for a required field of a historical model (unique per row through ``n``)."""
    if field.choices:
        return field.choices[0][0]
    if isinstance(field, models.BooleanField):
        return True
    if isinstance(field, (models.IntegerField, models.PositiveIntegerField)):
        return 7
    if isinstance(field, models.FloatField):
        return 0.5
    if isinstance(field, models.JSONField):
        return {"kept": n}
    if isinstance(field, models.DateTimeField):
        return datetime.datetime(2026, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    if isinstance(field, (models.CharField, models.TextField)):
        return f"v{n}"[: field.max_length or 64]
    raise AssertionError(f"no test value for {field!r}")


def _fill(apps: Any) -> dict[str, dict[str, Any]]:
    """One row in every table of ``core`` (FK targets first), M2M links included; returns what was written."""
    user_model = apps.get_model("auth", "User")
    user = user_model.objects.create(username="before-upgrade", email="b@example.com")
    group = apps.get_model("auth", "Group").objects.create(name="before-upgrade-group")
    pending = [m for m in apps.get_app_config("core").get_models()]
    made: dict[str, Any] = {}
    written: dict[str, dict[str, Any]] = {}
    n = 0
    while pending:
        progressed = False
        for model in list(pending):
            fks = [f for f in model._meta.concrete_fields if f.is_relation]
            targets = {f.name: f.related_model for f in fks}
            if any(t._meta.app_label == "core" and t._meta.object_name not in made and not f.null
                   for f, t in ((f, f.related_model) for f in fks)):
                continue
            n += 1
            values: dict[str, Any] = {}
            for field in model._meta.concrete_fields:
                if field.primary_key or field.is_relation:
                    continue
                if field.has_default() or field.null or getattr(field, "auto_now", False) \
                        or getattr(field, "auto_now_add", False):
                    if not field.unique:
                        continue
                values[field.name] = _value(field, n)
            for name, target in targets.items():
                if target._meta.app_label == "core":
                    if target._meta.object_name in made:
                        values[name] = made[target._meta.object_name]
                elif target is user_model or target._meta.model_name == "user":
                    values[name] = user
            row = model.objects.create(**values)
            for m2m in model._meta.many_to_many:
                target = m2m.related_model
                other = (user if target._meta.model_name == "user" else group if target._meta.model_name == "group"
                         else made.get(target._meta.object_name))
                if other is not None:
                    getattr(row, m2m.name).add(other)
            made[model._meta.object_name] = row
            written[model._meta.object_name] = {"pk": row.pk, **{k: v for k, v in values.items()
                                                                 if not isinstance(v, models.Model)}}
            pending.remove(model)
            progressed = True
        assert progressed, f"cannot order {pending}"
    return written


@pytest.mark.django_db(transaction=True)
def test_a_database_of_the_previous_release_migrates_forward_with_every_row() -> None:
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    executor.migrate(BASE)
    executor.loader.build_graph()
    old_apps = executor.loader.project_state(BASE).apps
    written = _fill(old_apps)
    old_models = {m._meta.object_name for m in old_apps.get_app_config("core").get_models()}
    m2m_counts = {f.remote_field.through._meta.db_table: f.remote_field.through.objects.count()
                  for m in old_apps.get_app_config("core").get_models() for f in m._meta.many_to_many}
    assert len(written) == len(old_models) >= 13  # every table of the app got a row
    assert sum(m2m_counts.values()) >= 4  # and the many-to-many tables (sharing with users and groups ...)

    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    executor.loader.build_graph()
    new_apps = executor.loader.project_state(latest).apps
    for name, values in written.items():
        row = new_apps.get_model("core", RENAMED.get(name, name)).objects.get(pk=values["pk"])
        for field, value in values.items():
            if field in DROPPED_FIELDS.get(name, ()) or (name == "SegmentJob" and field == "error"):
                continue
            assert getattr(row, field) == value, (name, field)
        if name == "SegmentJob":  # it was queued (the default): now failed, saying why
            assert row.status == "failed" and row.error.startswith(UNFINISHED), row.error
    with connection.cursor() as cursor:
        for table, count in m2m_counts.items():
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            assert cursor.fetchone()[0] == count, table


@pytest.mark.django_db(transaction=True)
def test_one_image_segment_jobs_become_read_only_records_their_owner_still_sees(tmp_path: Any,
                                                                               settings: Any) -> None:
    """Each ``SegmentJob`` (any status) survives 0013 as a ``LegacySegmentation`` with its owner, classes, profile
    and result; one that had not finished is failed with the reason (no task computes it any more)."""
    from django.test import Client

    settings.MEDIA_ROOT = str(tmp_path)
    executor = MigrationExecutor(connection)
    latest = executor.loader.graph.leaf_nodes()
    before = [("core", "0012_label_source_dataset")]
    executor.migrate(before)
    executor.loader.build_graph()
    old_apps = executor.loader.project_state(before).apps
    owner = old_apps.get_model("auth", "User").objects.create(username="seg-owner")
    jobs = old_apps.get_model("core", "SegmentJob").objects
    made = {status: jobs.create(token=status[0] * 32, user=owner, profile="tiny", class_names=["cat", status],
                                status=status, error="boom" if status == "failed" else "", celery_id=f"c-{status}")
            for status in ("queued", "running", "succeeded", "failed")}

    executor = MigrationExecutor(connection)
    executor.migrate(latest)
    from django.contrib.auth import get_user_model

    from ovdiff_web.predictions.models import LegacySegmentation

    for status, job in made.items():
        record = LegacySegmentation.objects.get(pk=job.pk)
        assert (record.token, record.user_id, record.profile, record.class_names) == \
            (job.token, owner.pk, "tiny", ["cat", status])
        assert record.created_at == job.created_at
        if status in ("queued", "running"):
            assert record.status == "failed" and "upgrade" in record.error and record.finished_at is not None
        else:
            assert (record.status, record.error) == (status, job.error)
    client = Client()
    client.force_login(get_user_model().objects.get(pk=owner.pk))
    html = client.get("/segment/" + "q" * 32 + "/").content.decode()  # the old URL shows the record to its owner
    assert "not finished before the upgrade" in html
    stranger = Client()
    stranger.force_login(get_user_model().objects.create_user("seg-stranger"))
    assert stranger.get("/segment/" + "q" * 32 + "/").status_code == 404
