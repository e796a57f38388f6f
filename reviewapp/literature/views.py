from django.core.paginator import Paginator
from django.db.models import Q
from django.shortcuts import get_object_or_404, render

from reviewapp.core.permissions import review_view
from reviewapp.literature.models import Record


@review_view()
def record_list(request, *, review, membership):
    records = Record.objects.filter(review=review).select_related("search", "source_import")
    query = request.GET.get("q", "").strip()
    if query:
        records = records.filter(
            Q(title__icontains=query) | Q(pmid=query) | Q(doi__iexact=query.lower())
        )
    page = Paginator(records.order_by("id"), 50).get_page(request.GET.get("page"))
    return render(
        request,
        "literature/record_list.html",
        {"review": review, "membership": membership, "page": page, "q": query},
    )


@review_view()
def record_detail(request, record_id: int, *, review, membership):
    record = get_object_or_404(Record, pk=record_id, review=review)
    return render(
        request,
        "literature/record_detail.html",
        {"review": review, "membership": membership, "record": record},
    )
