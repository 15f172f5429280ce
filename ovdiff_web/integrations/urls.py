"""/integrations/: Label Studio's ML backend protocol per connection (``ls_views``)."""
from django.urls import re_path

from ovdiff_web.integrations import ls_views

P = r"^label-studio/(?P<connection_id>[0-9]{1,18})/"

urlpatterns = [
    re_path(P + r"health/?$", ls_views.health, name="ls-health"),
    re_path(P + r"setup/?$", ls_views.setup, name="ls-setup"),
    re_path(P + r"predict/?$", ls_views.predict, name="ls-predict"),
    re_path(P + r"webhook/?$", ls_views.webhook, name="ls-webhook"),
    re_path(P + r"metrics/?$", ls_views.metrics, name="ls-metrics"),
]
