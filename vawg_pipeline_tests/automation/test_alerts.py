"""Notices: the run-failure sensor and the daily summary, delivered to local receivers."""

import datetime as dt
import json
from pathlib import Path

import dagster as dg
import pytest

from vawg_pipeline.alerts import Destinations, FailedStep, Notice, compose_failure_notice, deliver
from vawg_pipeline.defs.alerts import (
    DAILY_NOTICE_CRON,
    daily_notice_schedule,
    run_failure_notice,
)
from vawg_pipeline.defs.automation import all_forces_tags
from vawg_pipeline.defs.resources import AlertChannel, NationalStore, alert_channel_from_env
from vawg_pipeline.store import national
from vawg_pipeline_tests.automation.conftest import PLANTED, all_resources, land, tmp_defs
from vawg_pipeline_tests.automation.receivers import smtp_receiver, webhook_receiver
from vawg_pipeline_tests.conftest import good_row, set_received


def _channel(url: str, smtp_port: int) -> AlertChannel:
    return AlertChannel(webhook_url=url, email_to="psd-data@example.org, lead@example.org",
                        smtp_host="127.0.0.1", smtp_port=smtp_port, timeout_seconds=5)


def _everything_sent(received_posts: list[dict], mails: list) -> str:
    return json.dumps(received_posts) + "".join(m.as_string() for m in mails)


def test_a_notice_goes_to_the_log_the_webhook_and_email() -> None:
    notice = Notice(kind="run_failure", subject="[vawg-pipeline] test", lines=["one", "two"],
                    facts={"job": "refresh"})
    with webhook_receiver() as (url, hook), smtp_receiver() as (port, smtp):
        delivery = deliver(notice, _channel(url, port).destinations())
    assert delivery.sent == ["webhook", "email"] and not delivery.failed
    post = hook.posts[0]
    assert post["content_type"].startswith("application/json")
    assert post["path"] == "/hooks/vawg"
    assert post["json"]["subject"] == "[vawg-pipeline] test"
    assert post["json"]["facts"] == {"job": "refresh"}
    assert "one\ntwo" in post["json"]["text"]
    mail = smtp.mails[0]
    assert mail["Subject"] == "[vawg-pipeline] test"
    assert mail.get_content().replace("\r\n", "\n").strip() == "one\ntwo"
    assert smtp.envelopes[0][1] == ["psd-data@example.org", "lead@example.org"]


def test_one_broken_channel_does_not_stop_the_other(caplog: pytest.LogCaptureFixture) -> None:
    notice = Notice(kind="daily_summary", subject="s", lines=["l"])
    with webhook_receiver(status=500) as (url, _), smtp_receiver() as (port, smtp):
        delivery = deliver(notice, _channel(url, port).destinations())
    assert delivery.sent == ["email"] and len(smtp.mails) == 1
    assert delivery.failed["webhook"].startswith("HTTPError")
    assert "not sent by webhook" in caplog.text


def test_nothing_configured_means_log_only(caplog: pytest.LogCaptureFixture,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("VAWG_ALERT_WEBHOOK", "VAWG_ALERT_EMAIL", "VAWG_SMTP_HOST", "VAWG_SMTP_PORT"):
        monkeypatch.delenv(name, raising=False)
    destinations = alert_channel_from_env().destinations()
    assert destinations == Destinations()
    delivery = deliver(Notice(kind="daily_summary", subject="only logged", lines=["x"]),
                       destinations)
    assert delivery.sent == [] and delivery.failed == {}
    assert "only logged" in caplog.text


def test_channels_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("VAWG_ALERT_WEBHOOK", "http://127.0.0.1:9/hook")
    monkeypatch.setenv("VAWG_ALERT_EMAIL", "a@example.org")
    monkeypatch.setenv("VAWG_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("VAWG_SMTP_PORT", "2525")
    channel = alert_channel_from_env()
    # EnvVar: resolved where the run or sensor runs, never shown in the UI's config.
    resolved = channel.process_config_and_initialize()
    assert resolved.destinations() == Destinations(
        webhook_url="http://127.0.0.1:9/hook", email_to="a@example.org",
        smtp_host="127.0.0.1", smtp_port=2525)


def test_failure_notice_never_quotes_exception_messages() -> None:
    notice = compose_failure_notice(
        "refresh", "run-1",
        [FailedStep("force_returns", (("ValueError", "PC Planted Name1 MP100001"),)),
         FailedStep("national_store_check", (("DagsterAssetCheckFailedError",
                                              "Blocking check 'rows_conserved' failed"),)),
         FailedStep("national_store", (("Failure", "key abc is not key def"),
                                       ("KeyMismatch", "key abc is not key def")))],
        tags={"dagster/partition": "kent", "vawg/trigger": "new-file",
              "vawg/file": "Return v3.xlsx"})
    text = notice.subject + notice.text + json.dumps(notice.as_json())
    assert "Planted" not in text and "MP1000" not in text
    assert "force_returns (ValueError)" in text
    assert "rows_conserved" in text  # Dagster's own check messages are safe to show
    assert "national_store (Failure from KeyMismatch: key abc is not key def)" in text
    assert "Forces: kent." in text and "Return v3.xlsx" in text


def test_run_failure_sensor_sends_a_notice_for_a_failed_refresh(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    land(tmp_path, "kent", "kent.xlsx", [good_row(i) for i in range(3)])

    def failing_sync(*args: object, **kwargs: object) -> None:
        # An exception message quoting personal data must not reach the notice.
        raise dg.Failure("could not write PC Planted Name1 MP100001", allow_retries=False)

    monkeypatch.setattr(national, "sync_forces", failing_sync)
    instance = dg.DagsterInstance.ephemeral()
    result = tmp_defs(tmp_path).resolve_job_def("refresh").execute_in_process(
        instance=instance, tags={**all_forces_tags(), "vawg/trigger": "nightly"},
        raise_on_error=False)
    assert not result.success

    with webhook_receiver() as (url, hook), smtp_receiver() as (port, smtp):
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_notice", dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=result.dagster_run,
            resources={"alerts": _channel(url, port)},
        ).for_run_failure()
        run_failure_notice(context)
    assert len(hook.posts) == 1 and len(smtp.mails) == 1
    body = hook.posts[0]["json"]
    assert body["kind"] == "run_failure"
    assert body["facts"]["failed_steps"] == ["national_store"]
    assert body["facts"]["job"] == "refresh"
    assert body["facts"]["run_id"] == result.run_id
    assert "avon-and-somerset to wiltshire" in body["text"]
    assert "national_store (Failure)" in smtp.mails[0].get_content()
    sent = _everything_sent(hook.posts, smtp.mails)
    assert not any(planted in sent for planted in PLANTED)


def test_daily_notice_lists_refused_and_stale_forces_without_personal_data(
    tmp_path: Path,
) -> None:
    # Kent: accepted long ago (stale), with a quarantined row carrying names and notes.
    old = land(tmp_path, "kent", "kent-2021.xlsx",
               [good_row(i, date_recorded=dt.datetime(2021, 1, 5),
                         date_finalised=dt.datetime(2021, 3, 1)) for i in range(4)]
               + [good_row(9, restriction="Maybe")])
    set_received(old, dt.datetime(2021, 6, 1))
    land(tmp_path, "essex", "essex.xlsx", [good_row(i) for i in range(3)],
         when=dt.datetime.now() - dt.timedelta(days=2))
    broken = tmp_path / "incoming" / "surrey" / "Surrey return (2).xlsx"
    broken.parent.mkdir(parents=True)
    broken.write_bytes(b"")
    defs = tmp_defs(tmp_path)
    instance = dg.DagsterInstance.ephemeral()
    assert defs.resolve_job_def("refresh").execute_in_process(
        instance=instance, tags=all_forces_tags()).success

    with webhook_receiver() as (url, hook), smtp_receiver() as (port, smtp):
        notice_defs = tmp_defs(tmp_path, alerts=_channel(url, port))
        result = notice_defs.resolve_job_def("daily_notice").execute_in_process(instance=instance)
    assert result.success
    facts = hook.posts[0]["json"]["facts"]
    assert facts["refused"] == [{"force": "surrey", "file": "Surrey return (2).xlsx",
                                 "reason": "the file is empty (0 bytes)"}]
    assert facts["stale"] == ["kent"]
    assert "essex" not in facts["missing"] and "kent" not in facts["missing"]
    assert "surrey" in facts["missing"] and len(facts["missing"]) == 42
    assert facts["rows_quarantined"] == 1
    mail = smtp.mails[0]
    assert "1 refused" in mail["Subject"]
    content = mail.get_content()
    assert "surrey: Surrey return (2).xlsx: the file is empty" in content
    assert "kent: kent-2021.xlsx (received 2021-06-01)" in content
    sent = _everything_sent(hook.posts, smtp.mails)
    assert not any(planted in sent for planted in PLANTED)
    assert "Maybe" not in sent  # no cell values at all, quarantined ones included
    output = result.output_for_node("send_daily_notice")
    assert output is None


def test_daily_notice_schedule_runs_once_a_day_uk_time() -> None:
    assert daily_notice_schedule.cron_schedule == DAILY_NOTICE_CRON
    assert daily_notice_schedule.execution_timezone == "Europe/London"
    assert daily_notice_schedule.job_name == "daily_notice"
    assert daily_notice_schedule.default_status == dg.DefaultScheduleStatus.RUNNING
    assert run_failure_notice.default_status == dg.DefaultSensorStatus.RUNNING


def test_a_key_mismatch_is_named_in_the_failure_notice(tmp_path: Path) -> None:
    """The store's own refusal to mix pseudonym keys is safe to quote, and useful."""
    land(tmp_path, "kent", "kent.xlsx", [good_row(i) for i in range(3)])
    instance = dg.DagsterInstance.ephemeral()
    defs = tmp_defs(tmp_path)
    assert defs.resolve_job_def("refresh").execute_in_process(
        instance=instance, tags=all_forces_tags()).success
    resources = all_resources(tmp_path)
    resources["store"] = NationalStore(path=resources["store"].path, pseudonym_key="another")
    other = dg.Definitions(assets=defs.assets, asset_checks=defs.asset_checks,
                           jobs=defs.jobs, executor=defs.executor, resources=resources)
    result = other.resolve_job_def("refresh").execute_in_process(
        instance=instance, tags=all_forces_tags(), raise_on_error=False)
    assert not result.success
    with webhook_receiver() as (url, hook):
        context = dg.build_run_status_sensor_context(
            sensor_name="run_failure_notice", dagster_event=result.get_run_failure_event(),
            dagster_instance=instance, dagster_run=result.dagster_run,
            resources={"alerts": AlertChannel(webhook_url=url)},
        ).for_run_failure()
        run_failure_notice(context)
    text = hook.posts[0]["json"]["text"]
    assert "force_returns (Failure from KeyMismatch: " in text
    assert "VAWG_PSEUDONYM_KEY" in text
