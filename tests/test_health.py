"""/healthz and /readyz as CONTRACT.md says: JSON answers, never redirected to HTTPS."""

from __future__ import annotations

import pytest
from django.test import Client

from community.views import health


class BrokenLayer:
    """A channel layer whose server has gone away."""

    async def new_channel(self, prefix: str = "specific.") -> str:
        raise ConnectionError("redis is down")

    async def send(self, channel: str, message: dict) -> None:
        raise ConnectionError("redis is down")

    async def receive(self, channel: str) -> dict:
        raise ConnectionError("redis is down")


@pytest.mark.parametrize("path", ["/healthz", "/healthz/"])
def test_healthz_says_ok(client, path):
    response = client.get(path)
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "ok"}


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/readyz", "/readyz/"])
def test_readyz_is_200_when_database_and_channel_layer_answer(client, path):
    response = client.get(path)
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["checks"] == {"database": "ok", "channel_layer": "ok"}
    assert "failed" not in body


@pytest.mark.django_db
def test_readyz_is_503_naming_the_database_when_it_fails(client, monkeypatch):
    monkeypatch.setattr(health, "_database_ok", lambda: False)
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["database"]
    assert body["checks"] == {"database": "failed", "channel_layer": "ok"}


@pytest.mark.django_db
def test_readyz_is_503_when_the_database_raises(client, monkeypatch):
    class BrokenConnection:
        def cursor(self):
            raise OSError("connection refused")

    monkeypatch.setattr(health, "connection", BrokenConnection())
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["failed"] == ["database"]


@pytest.mark.django_db
def test_readyz_is_503_naming_the_channel_layer_when_it_fails(client, monkeypatch):
    monkeypatch.setattr(health, "get_channel_layer", lambda *args, **kwargs: BrokenLayer())
    response = client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["channel_layer"]
    assert body["checks"] == {"database": "ok", "channel_layer": "failed"}


@pytest.mark.django_db
def test_readyz_names_both_when_both_fail(client, monkeypatch):
    monkeypatch.setattr(health, "_database_ok", lambda: False)
    monkeypatch.setattr(health, "get_channel_layer", lambda *args, **kwargs: BrokenLayer())
    response = client.get("/readyz/")
    assert response.status_code == 503
    assert sorted(response.json()["failed"]) == ["channel_layer", "database"]


@pytest.mark.django_db
@pytest.mark.parametrize("path", ["/healthz", "/healthz/", "/readyz", "/readyz/"])
def test_health_checks_are_not_redirected_to_https(settings, path):
    settings.SECURE_SSL_REDIRECT = True
    client = Client()  # middleware reads the setting when the handler first loads
    response = client.get(path)
    assert response.status_code == 200
    # ...while an ordinary page is redirected, so the setting really is on.
    other = client.get("/help/")
    assert other.status_code == 301
    assert other["Location"].startswith("https://")


def test_health_checks_are_not_cached(client):
    response = client.get("/healthz")
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]
