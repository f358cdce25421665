from django.urls import path

from moderation import views

app_name = "moderation"

urlpatterns = [
    path("", views.queue, name="queue"),
    path("cases/<int:case_id>/", views.case_detail, name="case"),
    path("cases/<int:case_id>/claim/", views.claim, name="claim"),
    path("cases/<int:case_id>/decide/", views.decide, name="decide"),
    path("cases/<int:case_id>/appeal/", views.appeal, name="appeal"),
    path("cases/<int:case_id>/appeal/decide/", views.decide_appeal_view, name="decide_appeal"),
    path("duty/<slug:slug>/", views.duty, name="duty"),
    path("dashboard/", views.dashboard, name="dashboard"),
    path("guidelines/<slug:slug>/", views.guidelines, name="guidelines"),
    path("flag/<str:kind>/<int:item_id>/", views.flag, name="flag"),
]
