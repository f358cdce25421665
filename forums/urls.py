"""Forum routes, under /groups/<slug>/forum/ (CONTRACT.md)."""

from django.urls import path

from forums import views

app_name = "forums"

urlpatterns = [
    path("", views.forum_index, name="index"),
    path("new/", views.new_thread, name="new_thread"),
    path("search/", views.group_search, name="search"),
    path("categories/", views.manage_categories, name="categories"),
    path("t/<int:thread_id>/", views.thread_detail, name="thread"),
    path("t/<int:thread_id>/reply/", views.reply_to, name="reply"),
    path("t/<int:thread_id>/follow/", views.follow, name="follow"),
    path("t/<int:thread_id>/<str:action>/", views.moderate_thread, name="moderate_thread"),
    path("p/<int:post_id>/edit/", views.edit_post, name="edit_post"),
    path("p/<int:post_id>/delete/", views.delete_post, name="delete_post"),
    path("p/<int:post_id>/react/", views.react, name="react"),
    path("p/<int:post_id>/reactions/", views.who_reacted, name="reactions"),
    path("p/<int:post_id>/history/", views.post_history, name="post_history"),
]
