"""Admin pages for every model (read-mostly for worker-written rows)."""
from django.contrib import admin

from ovdiff_web.core import models as m


class VocabularyClassInline(admin.TabularInline):
    model = m.VocabularyClass
    extra = 0
    fields = ["name", "prompt", "is_stuff", "label_source", "label_changed_by", "label_changed_at", "order"]
    readonly_fields = ["label_changed_by", "label_changed_at"]


@admin.register(m.Vocabulary)
class VocabularyAdmin(admin.ModelAdmin):
    list_display = ["name", "owner", "version", "updated_at"]
    search_fields = ["name"]
    inlines = [VocabularyClassInline]


@admin.register(m.VocabularyClass)
class VocabularyClassAdmin(admin.ModelAdmin):
    list_display = ["name", "vocabulary", "is_stuff", "label_source", "label_changed_by", "label_changed_at"]
    list_filter = ["is_stuff", "label_source"]
    search_fields = ["name", "prompt"]


class SupportImageInline(admin.TabularInline):
    model = m.SupportImage
    extra = 0
    readonly_fields = ["index", "seed", "image", "fg_mask", "bg_mask"]
    fields = readonly_fields


@admin.register(m.SupportSet)
class SupportSetAdmin(admin.ModelAdmin):
    list_display = ["class_name", "key", "status", "n_images", "profile", "source", "created_at"]
    list_filter = ["status", "profile", "source"]
    search_fields = ["class_name", "key"]
    inlines = [SupportImageInline]


@admin.register(m.SupportImage)
class SupportImageAdmin(admin.ModelAdmin):
    list_display = ["support_set", "index", "seed"]


@admin.register(m.PrototypeBank)
class PrototypeBankAdmin(admin.ModelAdmin):
    list_display = ["support_set", "extractor", "key", "fg_count", "bg_count"]
    list_filter = ["extractor"]
    search_fields = ["key", "support_set__class_name"]


@admin.register(m.Dataset)
class DatasetAdmin(admin.ModelAdmin):
    list_display = ["name", "format", "source", "status", "image_count", "created_at"]
    list_filter = ["format", "source", "status"]
    search_fields = ["name"]


class RunStageInline(admin.TabularInline):
    model = m.RunStage
    extra = 0
    readonly_fields = ["name", "status", "done", "total", "skipped", "started_at", "finished_at"]
    fields = readonly_fields


@admin.register(m.Run)
class RunAdmin(admin.ModelAdmin):
    list_display = ["id", "kind", "status", "profile", "dataset", "vocabulary", "miou", "created_at"]
    list_filter = ["status", "kind", "profile"]
    readonly_fields = ["traceback", "celery_ids", "created_at", "started_at", "finished_at"]
    inlines = [RunStageInline]


@admin.register(m.RunStage)
class RunStageAdmin(admin.ModelAdmin):
    list_display = ["run", "name", "status", "done", "total", "skipped"]


@admin.register(m.ImageResult)
class ImageResultAdmin(admin.ModelAdmin):
    list_display = ["run", "image_id", "iou", "width", "height"]
    search_fields = ["image_id"]


@admin.register(m.RunShard)
class RunShardAdmin(admin.ModelAdmin):
    list_display = ["run", "index", "finished_at"]


@admin.register(m.AuditEntry)
class AuditEntryAdmin(admin.ModelAdmin):
    """Read-only: the audit trail is append-only."""

    list_display = ["at", "username", "action", "object_type", "object_id", "from_version"]
    list_filter = ["action", "object_type"]
    search_fields = ["username", "object_repr", "object_id"]

    def has_add_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_change_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False

    def has_delete_permission(self, request, obj=None):  # type: ignore[no-untyped-def]
        return False
