"""Notices as Dagster wiring: a run-failure sensor and a daily summary job and schedule.

Composing and sending live in ``vawg_pipeline.alerts`` (pure); here they are attached to
Dagster's events. Every notice is written to the log (the sensor's or the run's), and
sent to the webhook and/or e-mail configured in the ``alerts`` resource.
"""

from datetime import UTC, datetime

import dagster as dg

from vawg_pipeline.alerts import (
    FailedStep,
    compose_daily_notice,
    compose_failure_notice,
    daily_findings,
    deliver,
)
from vawg_pipeline.defs.resources import AlertChannel, NationalStore

DAILY_NOTICE_JOB = "daily_notice"
DAILY_NOTICE_CRON = "30 7 * * *"  # 07:30 UK time: after the nightly run, before work


def _failed_steps(context: dg.RunFailureSensorContext) -> list[FailedStep]:
    steps = []
    for event in context.get_step_failure_events():
        data = event.step_failure_data
        error, chain = (data.error if data is not None else None), []
        while error is not None and len(chain) < 10:  # the error, then what caused it
            chain.append((error.cls_name or "error", error.message))
            error = error.cause
        steps.append(FailedStep(step_key=event.step_key or "(run)", errors=tuple(chain)))
    return steps


@dg.run_failure_sensor(
    name="run_failure_notice",
    default_status=dg.DefaultSensorStatus.RUNNING,
    minimum_interval_seconds=30,
    description="When any run of this code location fails, logs a notice naming the job, "
    "the failed steps and the forces in scope, and sends it to the configured webhook "
    "and/or e-mail. Never personal data: no exception messages that may quote cells.",
)
def run_failure_notice(context: dg.RunFailureSensorContext, alerts: AlertChannel) -> None:
    run = context.dagster_run
    run_error = None
    failure = context.failure_event.event_specific_data
    if failure is not None and getattr(failure, "error", None) is not None:
        run_error = failure.error.cls_name
    notice = compose_failure_notice(run.job_name, run.run_id, _failed_steps(context),
                                    dict(run.tags), run_error_class=run_error)
    delivery = deliver(notice, alerts.destinations(), context.log)
    if delivery.sent:
        context.log.info(f"failure notice sent by {', '.join(delivery.sent)}")


@dg.op(
    description="Compose today's summary of refused newest files and stale or missing "
    "forces from the national store; log it and send it to the configured channels.",
    retry_policy=dg.RetryPolicy(max_retries=2, delay=60),  # a mail relay restarting
)
def send_daily_notice(
    context: dg.OpExecutionContext, store: NationalStore, alerts: AlertChannel
) -> dg.Output[None]:
    now = datetime.now(UTC).replace(tzinfo=None)
    if not store.store_path().exists():
        context.log.warning("no national store yet: nothing to summarise")
        return dg.Output(None, metadata={"sent by": "(nothing to summarise)"})
    with store.reader() as con:
        findings = daily_findings(con, now, store.max_return_age_days)
    notice = compose_daily_notice(findings, now.strftime("%Y-%m-%d"))
    delivery = deliver(notice, alerts.destinations(), context.log)
    if delivery.failed:
        # Fail (and retry) so a broken channel shows in the UI, not just in a log line.
        raise dg.Failure(
            description="daily notice not sent by: " + ", ".join(
                f"{channel} ({error.split(':')[0]})"
                for channel, error in delivery.failed.items()),
        )
    return dg.Output(None, metadata={
        "subject": notice.subject,
        "refused newest files": len(findings.refused),
        "stale or missing forces": len(findings.stale),
        "sent by": ", ".join(delivery.sent) or "(log only: no channel configured)",
    })


@dg.job(
    name=DAILY_NOTICE_JOB,
    description="The daily notice to the data team: refused files and stale forces.",
    tags={"vawg/trigger": "daily-notice"},
)
def daily_notice_job() -> None:
    send_daily_notice()


daily_notice_schedule = dg.ScheduleDefinition(
    name="daily_notice_schedule",
    job=daily_notice_job,
    cron_schedule=DAILY_NOTICE_CRON,
    execution_timezone="Europe/London",
    default_status=dg.DefaultScheduleStatus.RUNNING,
    description="Once a day: the summary of refused files and stale forces, logged and "
    "sent to the configured webhook and/or e-mail.",
)
