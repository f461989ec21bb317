from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """`?page=N&page_size=M`: 50 rows a page by default, never more than 200."""

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200
