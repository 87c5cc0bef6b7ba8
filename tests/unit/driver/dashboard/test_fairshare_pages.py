"""Fair share and aging as people read them: the users' shares (workers page, API) and a
waiting job's effective priority (job page, job detail)."""

from __future__ import annotations

import re

from tests.unit.driver.dashboard.conftest import TOKENS, Dash
from tests.unit.driver.helpers import claim


def share_rows(html: str) -> list[list[str]]:
    """The shares table's rows: user, then each cell's text."""
    table = html[html.index('<table class="shares">') :]
    table = table[: table.index("</table>")]
    return [
        [
            re.sub(r"<[^>]+>", "", cell).strip()
            for cell in re.findall(r"<t[hd][^>]*>(.*?)</t[hd]>", row)
        ]
        for row in re.findall(r'<tr data-key="share-[^"]+">(.*?)</tr>', table, re.S)
    ]


def test_the_workers_page_shows_each_user_s_share(dash: Dash) -> None:
    alices = dash.submit("alice", nbyears=4)
    dash.submit("bob", nbyears=4)
    task = claim(dash.api.worker(name="pc-01", cores=2), cores=2)
    assert task.job_id == alices  # first come: nobody used anything yet
    dash.api.clock.advance(3600)
    html = dash.browser("ops").get("/workers").text
    assert "Fair share: at one priority, the user with the least recent usage" in html
    assert "Waiting jobs gain 1.0 priority point per hour, at most 50." in html
    # bob (nothing used) is served next; alice has used 2 cores for an hour
    assert share_rows(html) == [
        ["bob", "1", "0.0", "0", "0 %", "50 %"],
        ["alice", "1", "2.0", "2", "100 %", "50 %"],
    ]
    shares = dash.api.client(TOKENS["bob"]).shares()
    assert shares.scheduling == "fair_share" and shares.half_life_hours == 24.0
    assert [(s.user, s.running_cores) for s in shares.users] == [("bob", 0), ("alice", 2)]


def test_a_waiting_job_shows_its_aged_priority(dash: Dash) -> None:
    dash.submit("alice", nbyears=4)
    bobs = dash.submit("bob", nbyears=4)
    claim(dash.api.worker(name="pc-01", cores=2), cores=2)
    browser = dash.browser("bob")
    assert '<dd data-key="priority">50</dd>' in browser.get(f"/jobs/{bobs}").text
    dash.api.clock.advance(3 * 3600 + 60)
    html = browser.get(f"/jobs/{bobs}").text
    assert '50 <span class="muted">(53 with aging)</span>' in html
    detail = dash.api.client(TOKENS["bob"]).get_job(bobs)
    assert (detail.priority, detail.effective_priority) == (50, 53)
