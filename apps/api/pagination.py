from rest_framework.exceptions import ValidationError
from rest_framework.pagination import PageNumberPagination


class PagePagination(PageNumberPagination):
    """`?page=N&page_size=M`: 50 rows a page by default, never more than 200.

    A page past the end answers 404; a `page_size` that is not a whole number from 1 answers 400
    (DRF would silently use the default).
    """

    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200

    def get_page_size(self, request):
        given = request.query_params.getlist(self.page_size_query_param)
        if any(not (value.isascii() and value.isdigit() and int(value) > 0) for value in given):
            raise ValidationError({self.page_size_query_param: ["A whole number from 1."]})
        return super().get_page_size(request)
