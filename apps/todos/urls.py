from apps.core.routers import OptionalSlashRouter
from apps.todos.api import TodoViewSet

router = OptionalSlashRouter()
router.register("todos", TodoViewSet, basename="todo")
urlpatterns = router.urls
