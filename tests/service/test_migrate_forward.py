"""A database made by an earlier version migrates forward with nothing lost: built from this commit's migration
history up to an earlier state, a row in every table of the app (and its many-to-many tables), then migrated to
the latest state; every row is still there with the values it was given.

``BASE`` is the state of the previous release; move it forward when a release ships (the migrations after it are
the ones this test exercises, e.g. ``0010_support_set_access`` marking existing support sets)."""
from __future__ import annotations

import datetime
from typing import Any

import pytest
from django.db import connection, models
from django.db.migrations.executor import MigrationExecutor

BASE = [("core", "0009_sdov_profile")]


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
        row = new_apps.get_model("core", name).objects.get(pk=values["pk"])
        for field, value in values.items():
            assert getattr(row, field) == value, (name, field)
    with connection.cursor() as cursor:
        for table, count in m2m_counts.items():
            cursor.execute(f"SELECT COUNT(*) FROM {connection.ops.quote_name(table)}")
            assert cursor.fetchone()[0] == count, table
