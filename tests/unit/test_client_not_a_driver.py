"""A driver URL that points at another server, or at the driver's /docs, says so."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.cli.fake_driver import FakeDriver, make_job
from winjobs.client import ClientError, DriverClient
from winjobs.wire import WorkerRegistration


def client(base_url: str, handler: httpx.MockTransport) -> DriverClient:
    return DriverClient(httpx.Client(base_url=base_url, transport=handler))


def fake_driver_at(base_url: str, fake: FakeDriver) -> DriverClient:
    """A client of the fake driver, as alice, with `base_url` as the user gave it."""
    http = httpx.Client(
        base_url=base_url,
        transport=fake.transport(),
        headers={"Authorization": "Bearer alice-token"},
    )
    return DriverClient(http)


def web_server(request: httpx.Request) -> httpx.Response:
    """Another web server: an HTML page for `/`, an HTML 404 for everything else."""
    if request.url.path == "/":
        return httpx.Response(200, html="<html><body>Intranet</body></html>")
    return httpx.Response(404, html="<html><body><h1>404 Not Found</h1></body></html>")


def test_another_server_is_not_a_winjobs_driver() -> None:
    other = client("http://intranet.example", httpx.MockTransport(web_server))
    with pytest.raises(ClientError) as caught:
        other.get_job(3)
    assert str(caught.value) == (
        "http://intranet.example is not a winjobs driver (GET /api/v1/jobs/3 answered HTTP "
        "404 and http://intranet.example/health is no winjobs health check): give the "
        "driver's address, e.g. http://HOST:8000"
    )
    assert caught.value.status_code == 404


def test_a_server_answering_html_with_200_is_not_a_driver_either() -> None:
    def everything_ok(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, html="<html>Welcome</html>")

    other = client("http://proxy.example", httpx.MockTransport(everything_ok))
    with pytest.raises(ClientError, match=r"^http://proxy.example is not a winjobs driver"):
        other.list_jobs()


def test_the_docs_page_of_a_driver_is_not_its_address() -> None:
    fake = FakeDriver()
    fake.add(make_job(3))
    with pytest.raises(ClientError) as caught:
        fake_driver_at("http://driver.test/docs", fake).get_job(3)
    assert str(caught.value).endswith(
        "the driver's address is its root: http://driver.test, not http://driver.test/docs"
    )
    assert str(caught.value).startswith("http://driver.test/docs is not a winjobs driver")


def test_a_drivers_own_not_found_is_left_as_it_is() -> None:
    driver = fake_driver_at("http://driver.test", FakeDriver())
    with pytest.raises(ClientError) as caught:
        driver.get_job(999)
    assert str(caught.value) == "job 999 not found (HTTP 404)"
    # a path this driver does not serve (an older one): it is a driver, the 404 stays
    registration = WorkerRegistration(name="w", cores=1, os="Linux", versions=["8.8"])
    with pytest.raises(ClientError, match=r"^Not Found \(HTTP 404\)$"):
        driver.register_worker(registration)
