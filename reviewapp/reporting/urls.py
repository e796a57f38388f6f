from django.urls import path

from reviewapp.reporting import views

app_name = "reporting"
urlpatterns = [
    path("prisma/", views.prisma_detail, name="prisma-detail"),
    path("prisma/export.<str:fmt>", views.prisma_export_view, name="prisma-export"),
    path("prisma/boxes/<str:box>/", views.prisma_box, name="prisma-box"),
]
