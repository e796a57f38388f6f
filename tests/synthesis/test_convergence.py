"""An iterative tau² estimator that does not converge never breaks an analysis.

Fisher scoring for REML can fail on some data, as in metafor ("Fisher scoring algorithm did not
converge"). The realistic benchmark database found such data: its build stopped on an analysis
whose trimmed studies did not converge. On all the studies the user gets a message naming the
cause and a way out; on a refit of other data (leave-one-out, trim-and-fill, Egger's test, an
addition) the main result is kept and the page says which part is missing and why. The trials
below are event counts found by searching random trials for each case.
"""

from __future__ import annotations

import pytest
from django.urls import reverse

from reviewapp.core.errors import ServiceError
from reviewapp.synthesis.models import AnalysisResult
from reviewapp.synthesis.services import analysis_run
from tests.conftest import membership_of
from tests.synthesis.helpers import trials_extract
from tests.synthesis.test_analysis_page import create

# (events, total) in arm 1 and arm 2 per trial. REML converges on all five; leaving out
# trial 3 it does not.
LOO_FAILS = [((230, 339), (17, 38)), ((259, 302), (27, 35)), ((178, 248), (5, 297)),
             ((79, 143), (49, 72)), ((1, 22), (124, 192))]  # fmt: skip
# REML does not converge on these five at all.
POOL_FAILS = [((181, 253), (118, 314)), ((2, 176), (6, 47)), ((88, 207), (119, 390)),
              ((233, 305), (125, 187)), ((113, 255), (54, 182))]  # fmt: skip


def test_a_refit_that_does_not_converge_keeps_the_result_and_says_why(client, review, owner):
    trials_extract(review, owner, LOO_FAILS)
    analysis = create(review, owner)
    result = analysis_run(membership=membership_of(owner, review), analysis=analysis)
    assert result.results["pooled"]["k"] == 5
    assert "leave_one_out" not in result.results
    assert result.results["leave_one_out_error"] == (
        "Leave-one-out could not be computed: Fisher scoring for REML did not converge."
    )
    client.force_login(owner)
    page = client.get(reverse("synthesis:analysis-detail", args=[review.slug, analysis.pk]))
    assert page.status_code == 200
    assert "Leave-one-out could not be computed" in page.content.decode()


def test_a_pool_that_does_not_converge_is_refused_naming_the_cause(review, owner):
    trials_extract(review, owner, POOL_FAILS)
    analysis = create(review, owner)
    with pytest.raises(ServiceError, match="Fisher scoring for REML did not converge") as caught:
        analysis_run(membership=membership_of(owner, review), analysis=analysis)
    assert "DL, PM or ML" in str(caught.value)
    assert not AnalysisResult.objects.filter(analysis=analysis).exists()
