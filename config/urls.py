from django.contrib import admin
from django.contrib.auth.decorators import login_required
from django.urls import include, path
from django.views.generic import TemplateView

from community.views import email_prefs, health, pages, people, places, privacy
from community.views import meetings as meeting_pages
from forums import views as forum_views

# allauth answers its rate limits (ACCOUNT_RATE_LIMITS) with this view: the plain 429 page.
handler429 = pages.too_many_requests

admin.site.site_header = "Kindred site administration"
admin.site.site_title = "Kindred admin"
# Everyone logs in through allauth's page, with its rate limits and failed-login log; the
# admin's own login form would be an unthrottled side door.
admin.site.login = login_required(admin.site.login)

urlpatterns = [
    path("", pages.home, name="home"),
    path("healthz", health.healthz),
    path("healthz/", health.healthz, name="healthz"),
    path("readyz", health.readyz),
    path("readyz/", health.readyz, name="readyz"),
    path("help/", pages.help_now, name="help"),
    path(
        "robots.txt",
        TemplateView.as_view(template_name="robots.txt", content_type="text/plain"),
    ),
    path("accounts/profile/", people.edit_profile, name="profile"),
    path("accounts/export/", privacy.export_page, name="account_export"),
    path("accounts/export.json", privacy.export_json, name="account_export_json"),
    path("accounts/export.html", privacy.export_html, name="account_export_html"),
    path("accounts/delete/", privacy.delete_account, name="account_delete"),
    path("accounts/sessions/<int:session_id>/end/", privacy.end_session,
         name="account_session_end"),
    path("accounts/", include("allauth.urls")),
    path("people/<int:user_id>/", people.person, name="person"),
    path("notifications/", people.notifications, name="notifications"),
    path("places/", places.place_search, name="places"),
    path("notifications/read/", people.notifications_read, name="notifications_read"),
    path("email/unsubscribe/<str:token>/", email_prefs.unsubscribe, name="email_unsubscribe"),
    path("groups/<slug:slug>/forum/", include("forums.urls")),
    path("groups/", include("community.urls")),
    path("calendar/<str:token>.ics", meeting_pages.calendar_feed_view, name="calendar_feed"),
    path("search/", forum_views.site_search, name="search"),
    path("moderation/", include("moderation.urls")),
    path("admin/", admin.site.urls),
]
