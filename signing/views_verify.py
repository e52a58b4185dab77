from django.http import Http404, HttpRequest, HttpResponse


def verify_code(request: HttpRequest, code: str) -> HttpResponse:
    raise Http404
