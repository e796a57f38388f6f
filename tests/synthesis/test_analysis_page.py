"""The analysis page does no statistics and no plotting: plots are drawn once per result.

A result's SVG plots are drawn when it is computed (by the request for a small analysis, by the
worker for a large one) and kept in storage; the page links them as images and pages its tables,
so its queries and size do not grow with the number of studies.
"""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from reviewapp.literature.constants import JobStatus
from reviewapp.synthesis import services
from reviewapp.synthesis.models import AnalysisResult, AnalysisRun
from reviewapp.synthesis.selectors import outcome_choices
from reviewapp.synthesis.services import analysis_compute_request, analysis_create, analysis_run
from reviewapp.synthesis.stats import plots
from tests.celery_worker import celery_worker  # noqa: F401  (fixture)
from tests.conftest import membership_of
from tests.factories import review_make
from tests.synthesis.helpers import trials_extract


def extract_trials(review, owner, k: int, seed: int = 5) -> None:
    """k two-arm trials with random event counts, extracted by one extractor (final data)."""
    rng = np.random.default_rng(seed)
    trials = []
    for _ in range(k):
        n1, n2 = (int(n) for n in rng.integers(40, 200, 2))
        trials.append(((int(rng.binomial(n1, 0.2)), n1), (int(rng.binomial(n2, 0.3)), n2)))
    trials_extract(review, owner, trials)


def create(review, owner, name="Deaths"):
    (choice,) = outcome_choices(review)
    return analysis_create(
        membership=membership_of(owner, review),
        name=name,
        outcome_key=choice.value,
        measure="RR",
        model="random",
        method="REML",
    )


@pytest.fixture
def draws(monkeypatch):
    """Counts every forest and funnel plot drawn in this process (the real drawing runs)."""
    calls = {"forest": 0, "funnel": 0}

    def counting(name, real):
        def wrapper(*args, **kwargs):
            calls[name] += 1
            return real(*args, **kwargs)

        return wrapper

    monkeypatch.setattr(plots, "forest_plot", counting("forest", plots.forest_plot))
    monkeypatch.setattr(plots, "funnel_plot", counting("funnel", plots.funnel_plot))
    return calls


def page_urls(review, analysis):
    return [
        reverse("synthesis:analysis-detail", args=[review.slug, analysis.pk]),
        reverse("synthesis:analysis-plot", args=[review.slug, analysis.pk, "forest.svg"]),
        reverse("synthesis:analysis-plot", args=[review.slug, analysis.pk, "funnel.svg"]),
    ]


def test_plots_are_drawn_with_the_result_and_never_by_page_views(client, review, owner, draws):
    extract_trials(review, owner, 6)
    analysis = create(review, owner)
    result = analysis_run(membership=membership_of(owner, review), analysis=analysis)
    assert draws == {"forest": 1, "funnel": 1}
    result.refresh_from_db()
    assert result.forest_svg and result.funnel_svg
    mtimes = [result.forest_svg.storage.get_modified_time(f.name) for f in (result.forest_svg,)]
    client.force_login(owner)
    for _ in range(3):
        for url in page_urls(review, analysis):
            assert client.get(url).status_code == 200
    assert draws == {"forest": 1, "funnel": 1}
    assert [result.forest_svg.storage.get_modified_time(result.forest_svg.name)] == mtimes
    served = client.get(page_urls(review, analysis)[1])
    with result.forest_svg.open("rb") as handle:
        assert served.content == handle.read()
    # Stored CSP-safe: no style attribute or element for a strict style-src to block.
    assert b"style=" not in served.content and b"<style" not in served.content


def test_a_new_result_gets_its_own_plots(review, owner, draws):
    extract_trials(review, owner, 4)
    analysis = create(review, owner)
    me = membership_of(owner, review)
    first = analysis_run(membership=me, analysis=analysis)
    second = analysis_run(membership=me, analysis=analysis)
    assert draws == {"forest": 2, "funnel": 2}
    assert first.forest_svg.name != second.forest_svg.name


def test_the_page_waits_for_plots_the_worker_is_drawing(client, review, owner, draws):
    extract_trials(review, owner, 4)
    analysis = create(review, owner)
    result = analysis_run(membership=membership_of(owner, review), analysis=analysis)
    AnalysisResult.objects.filter(pk=result.pk).update(
        forest_svg="", funnel_svg="", plots_pending_since=timezone.now()
    )
    client.force_login(owner)
    page = client.get(page_urls(review, analysis)[0]).content.decode()
    assert "being drawn" in page and "<img" not in page
    assert draws == {"forest": 1, "funnel": 1}  # the page drew nothing
    # A worker that died while drawing: after a while the plots are drawn on request.
    AnalysisResult.objects.filter(pk=result.pk).update(
        plots_pending_since=timezone.now() - timedelta(minutes=10)
    )
    page = client.get(page_urls(review, analysis)[0]).content.decode()
    assert "being drawn" not in page and "<img" in page


def test_a_result_without_stored_plots_is_drawn_once_on_first_view(client, review, owner, draws):
    extract_trials(review, owner, 4)
    analysis = create(review, owner)
    result = analysis_run(membership=membership_of(owner, review), analysis=analysis)
    # As a result computed before plots were kept.
    AnalysisResult.objects.filter(pk=result.pk).update(forest_svg="", funnel_svg="")
    client.force_login(owner)
    for _ in range(3):
        for url in page_urls(review, analysis):
            assert client.get(url).status_code == 200
    assert draws == {"forest": 2, "funnel": 2}  # once with the result, once after the reset


def test_png_downloads_are_drawn_once(client, review, owner, draws):
    extract_trials(review, owner, 4)
    analysis = create(review, owner)
    analysis_run(membership=membership_of(owner, review), analysis=analysis)
    client.force_login(owner)
    url = reverse("synthesis:analysis-download", args=[review.slug, analysis.pk, "forest.png"])
    first, second = client.get(url), client.get(url)
    assert first.content[:8] == b"\x89PNG\r\n\x1a\n" and first.content == second.content
    assert draws == {"forest": 2, "funnel": 1}


def _page(client, review, analysis):
    url = reverse("synthesis:analysis-detail", args=[review.slug, analysis.pk])
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    assert response.status_code == 200
    return response.content.decode(), len(queries)


@pytest.mark.django_db
def test_page_queries_and_rows_are_the_same_at_5_and_60_studies(client, owner):
    counts, sizes = [], []
    client.force_login(owner)
    for k, slug in ((5, "five"), (60, "sixty")):
        review = review_make(owner=owner, slug=slug)
        extract_trials(review, owner, k)
        analysis = create(review, owner)
        analysis_run(membership=membership_of(owner, review), analysis=analysis)
        _page(client, review, analysis)  # warm per-process caches
        html, n = _page(client, review, analysis)
        counts.append(n)
        sizes.append(html.count("<tr>"))
        if k == 60:
            assert "Rows 1–50 of 60" in html
            url = reverse("synthesis:analysis-detail", args=[review.slug, analysis.pk])
            assert "Trial 060" in client.get(url, {"page": 2}).content.decode()
    assert counts[0] == counts[1], counts
    # Study and leave-one-out tables: one page (50 rows) each at most, plus headers.
    assert sizes[1] <= 2 * (50 + 1)


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_a_large_analysis_is_computed_by_the_worker(celery_worker, review, owner, monkeypatch):  # noqa: F811
    queue, _hostname = celery_worker
    monkeypatch.setattr(services, "COMPUTE_INLINE_MAX_STUDIES", 3)
    extract_trials(review, owner, 8)
    analysis = create(review, owner)
    me = membership_of(owner, review)
    run = analysis_compute_request(membership=me, analysis=analysis, queue=queue)
    assert isinstance(run, AnalysisRun)
    # Asking again while it is on its way does not queue a second computation.
    assert analysis_compute_request(membership=me, analysis=analysis, queue=queue).pk == run.pk
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        run.refresh_from_db()
        if run.status in (JobStatus.DONE, JobStatus.FAILED):
            break
        time.sleep(0.2)
    assert run.status == JobStatus.DONE, run.error
    result = run.result
    assert result is not None and result.studies_count == 8
    assert len(result.results["leave_one_out"]) == 8
    # The plots follow the result: drawn by the same worker right after, then kept.
    while time.monotonic() < deadline:
        result.refresh_from_db()
        if result.forest_png and result.funnel_png:
            break
        time.sleep(0.2)
    assert result.forest_svg and result.funnel_svg and result.plots_pending_since is None
    with result.forest_svg.open("rb") as handle:
        assert b"Trial 008" in handle.read()


def test_the_page_reports_trim_and_fill(client, review, owner, draws):
    extract_trials(review, owner, 5)
    analysis = create(review, owner)
    result = analysis_run(membership=membership_of(owner, review), analysis=analysis)
    taf = result.results["trim_and_fill"]
    client.force_login(owner)
    page = client.get(page_urls(review, analysis)[0]).content.decode()
    assert f"Trim-and-fill (L0): {taf['k0']} stud" in page
    assert f"missing on the {taf['side']} side" in page
