"""Page-number pagination with a client-chosen ``page_size`` (bounded)."""
from rest_framework.pagination import PageNumberPagination


class StandardPagination(PageNumberPagination):
    page_size_query_param = "page_size"
    max_page_size = 500
