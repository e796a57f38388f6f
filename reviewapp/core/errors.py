class ServiceError(Exception):
    """A request we refuse, with a message meant for the person who made it.

    `field` names the form field or input at fault when there is one.
    """

    def __init__(self, message: str, *, field: str | None = None):
        super().__init__(message)
        self.message = message
        self.field = field
