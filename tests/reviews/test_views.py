from django.urls import reverse

from reviewapp.reviews.constants import Role
from reviewapp.reviews.models import Review
from reviewapp.screening.models import StageSettings


def test_a_logged_in_user_creates_a_review_and_owns_it(client, owner):
    client.force_login(owner)
    response = client.post(
        reverse("reviews:review-create"), {"title": "Stopping natalizumab in MS", "slug": ""}
    )
    review = Review.objects.get(slug="stopping-natalizumab-in-ms")
    assert response.status_code == 302
    assert review.memberships.get().role == Role.OWNER
    assert StageSettings.objects.filter(review=review).count() == 2


def test_a_taken_short_name_is_refused_with_a_message(client, owner, review):
    client.force_login(owner)
    response = client.post(
        reverse("reviews:review-create"), {"title": "Another", "slug": review.slug}
    )
    assert response.status_code == 200
    assert f"A review called &#x27;{review.slug}&#x27; already exists" in response.content.decode()


def test_the_dashboard_shows_counts_per_stage(client, owner, review, records):
    client.force_login(owner)
    response = client.get(reverse("reviews:review-detail", args=[review.slug]))
    stages = response.context["stages"]
    assert [s.stage for s in stages] == ["ta", "ft"]
    assert stages[0].eligible == len(records)
    assert stages[0].unscreened == len(records)
    assert stages[1].eligible == 0
    assert '<th scope="col" class="num">Not retrieved</th>' in response.content.decode()


def test_settings_save_keywords_and_stage_modes(client, owner, review):
    client.force_login(owner)
    response = client.post(
        reverse("reviews:review-settings", args=[review.slug]),
        {
            "title": review.title,
            "keywords_include": "natalizumab\nrebound, random*",
            "keywords_exclude": "case report",
            "ta_reviewers_required": "1",
            "ft_reviewers_required": "2",
            "ft_blinded": "on",
        },
    )
    assert response.status_code == 302
    review.refresh_from_db()
    assert review.keywords_include == ["natalizumab", "rebound", "random*"]
    ta = StageSettings.objects.get(review=review, stage="ta")
    assert (ta.reviewers_required, ta.blinded) == (1, False)
