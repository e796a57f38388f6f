class ServiceError(Exception):
    """A request we refuse, with a message meant for the person who made it.

    `field` names the form field or input at fault when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field


def form_error_add(form, exc: ServiceError) -> None:
    """Show a service's refusal on the form: at the field it names, else above the form."""
    form.add_error(exc.field if exc.field in form.fields else None, exc.message)
