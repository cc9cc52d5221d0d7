from rest_framework.routers import SimpleRouter


class OptionalSlashRouter(SimpleRouter):
    """Accept /api/todos and /api/todos/ alike: a redirect would turn a POST into a GET."""

    def __init__(self) -> None:
        super().__init__()
        self.trailing_slash = "/?"
