from django.contrib import messages
from django.shortcuts import redirect, render
from django.views.decorators.csrf import csrf_exempt

from reviewapp.core.errors import ServiceError, form_error_add
from reviewapp.core.permissions import review_view
from reviewapp.notifications import services
from reviewapp.notifications.constants import Frequency
from reviewapp.notifications.forms import PreferenceForm


@review_view()
def preference(request, *, review, membership):
    """Each member chooses how often they hear about this review."""
    current = services.preference_get(membership)
    form = PreferenceForm(request.POST or None, initial={"frequency": current.frequency})
    if request.method == "POST" and form.is_valid():
        try:
            services.preference_set(membership=membership, frequency=form.cleaned_data["frequency"])
        except ServiceError as exc:
            form_error_add(form, exc)
        else:
            messages.success(request, "Saved.")
            return redirect("notifications:preference", review.slug)
    context = {"review": review, "membership": membership, "form": form}
    return render(request, "notifications/preference.html", context)


# A mail client's one-click unsubscribe (RFC 8058) POSTs without a CSRF token; the signed token
# in the address is what proves the request, and it can only turn notifications off.
@csrf_exempt
def unsubscribe(request, token: str):
    """Turn one review's notifications off from the link in a message, without logging in."""
    membership = services.unsubscribe_membership(token)
    if membership is None:
        return render(request, "notifications/unsubscribe.html", {"invalid": True}, status=404)
    done = False
    if request.method == "POST":
        services.preference_set(membership=membership, frequency=Frequency.OFF)
        done = True
    context = {"target": membership, "done": done}
    return render(request, "notifications/unsubscribe.html", context)
