"""`winjobs submit --notify` (checked before any upload, the user config's default) and
how `winjobs show` tells the delivery of each target."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tests.unit.cli.conftest import Cli
from tests.unit.cli.fake_driver import T0, FakeDriver, make_job
from tests.unit.cli.studies import make_study
from winjobs.wire import DeliveryState, JobStatus, NotificationInfo


def test_repeated_notify_targets_go_with_the_job(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    result = cli(
        "submit",
        str(make_study(tmp_path)),
        "--notify",
        "MAIL:me@example.com",
        "--notify",
        "https://hooks.example.com/winjobs",
    )
    assert result.code == 0, result.err
    [sent] = fake.submissions
    assert sent.fields["notify"] == "mail:me@example.com\nhttps://hooks.example.com/winjobs"


def test_a_bad_target_is_refused_before_any_upload(
    cli: Cli, fake: FakeDriver, tmp_path: Path
) -> None:
    result = cli("submit", str(make_study(tmp_path)), "--notify", "me@example.com")
    assert result.code == 2
    assert result.err.strip() == (
        "error: --notify 'me@example.com': give mail:ADDRESS or a webhook URL starting "
        "with http:// or https://"
    )
    assert fake.requests == []


def test_the_user_config_gives_the_default_and_a_flag_replaces_it(
    cli: Cli, fake: FakeDriver, tmp_path: Path, user_dir: Path
) -> None:
    user_dir.mkdir()
    (user_dir / "config.yaml").write_text(
        "notify:\n  - mail:team@example.com\n  - http://hooks.local/x\n", encoding="utf-8"
    )
    study = make_study(tmp_path)
    assert cli("submit", str(study)).code == 0
    assert cli("submit", str(study), "--notify", "mail:me@example.com").code == 0
    first, second = fake.submissions
    assert first.fields["notify"] == "mail:team@example.com\nhttp://hooks.local/x"
    assert second.fields["notify"] == "mail:me@example.com"


def test_a_bad_default_names_the_config_key(
    cli: Cli, fake: FakeDriver, tmp_path: Path, user_dir: Path
) -> None:
    user_dir.mkdir()
    (user_dir / "config.yaml").write_text("notify: [team@example.com]\n", encoding="utf-8")
    result = cli("submit", str(make_study(tmp_path)))
    assert result.code == 2
    assert "key 'notify': Value error, 'team@example.com': give mail:ADDRESS" in result.err
    assert fake.requests == []


def test_show_tells_how_each_target_was_told(cli: Cli, fake: FakeDriver) -> None:
    later = datetime.now(UTC) + timedelta(hours=1)

    def told(target: str, state: DeliveryState, **more: object) -> NotificationInfo:
        fields: dict[str, object] = {"job_status": JobStatus.FAILED, "created_at": T0}
        fields.update(more)
        return NotificationInfo(target=target, state=state, **fields)  # type: ignore[arg-type]

    targets = ["mail:me@example.com", "https://a.example.com/", "https://b.example.com/"]
    fake.add(
        make_job(
            5,
            status=JobStatus.FAILED,
            notify=[*targets, "https://not-yet.example.com/"],
            notifications=[
                told(targets[0], DeliveryState.SENT, attempts=1, sent_at=T0),
                told(
                    targets[1],
                    DeliveryState.RETRYING,
                    attempts=2,
                    last_error="ConnectError: refused",
                    next_attempt_at=later,
                ),
                told(targets[2], DeliveryState.GAVE_UP, attempts=10, last_error="HTTP 500: boom"),
            ],
        )
    )
    out = cli("show", "5").out
    lines = {
        line.split()[1]: line.rstrip() for line in out.splitlines() if line.startswith("notify")
    }
    assert "  sent " in lines[targets[0]] and lines[targets[0]].endswith(" ago")
    assert "retrying (2 attempts, next in " in lines[targets[1]]
    assert lines[targets[1]].endswith("): ConnectError: refused")
    assert lines[targets[2]].endswith("gave up after 10 attempts: HTTP 500: boom")
    assert lines["https://not-yet.example.com/"].split() == [
        "notify",
        "https://not-yet.example.com/",
    ]
