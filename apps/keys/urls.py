from apps.core.routers import OptionalSlashRouter
from apps.keys.api import ProviderKeyViewSet

router = OptionalSlashRouter()
router.register("api-keys", ProviderKeyViewSet, basename="provider-key")
urlpatterns = router.urls
