"""Business metrics of loan_app, read from its database at scrape time (see common.operations.state_metrics).

Applications by status, decisions by outcome, rejections by reason code, the time from
submission to decision as a histogram, and the officers' reviews by timing (on time, at risk,
overdue) and escalation — what the ``LoanflowReviewsOverdue`` alert watches. Counted from the
applications themselves, so they are exact whatever the number of processes, and they survive
restarts.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, HistogramMetricFamily
from prometheus_client.metrics_core import Metric
from sqlalchemy import func, select

from common.service.runtime import Runtime
from loan_app.adapters.orm import applications
from loan_app.domain.status import Status
from loan_app.reviews import timing_counts

#: Buckets (seconds) of the submission-to-decision histogram.
DECISION_BUCKETS = (1, 2, 5, 10, 30, 60, 300, 3600, 86400, 7 * 86400)


def business_state(rt: Runtime) -> Iterable[Metric]:
    with rt.session_factory() as session:
        by_status = {status: count for status, count in session.execute(
            select(applications.c.status, func.count()).group_by(applications.c.status))}
        decided = session.execute(
            select(applications.c.status, applications.c.created_at, applications.c.updated_at, applications.c.decision)
            .where(applications.c.status.in_([Status.APPROVED.value, Status.REJECTED.value]))
        ).all()
    gauge = GaugeMetricFamily("loanflow_applications", "Applications by current status.", labels=["status"])
    for status in Status:
        gauge.add_metric([status.value], float(by_status.get(status.value, 0)))
    yield gauge
    outcomes = CounterMetricFamily("loanflow_decisions", "Applications decided, by outcome.", labels=["outcome"])
    reasons: Counter[str] = Counter()
    durations: list[float] = []
    for status, created, updated, decision in decided:
        durations.append((updated - created).total_seconds())
        if status == Status.REJECTED.value:
            reasons.update(reason["code"] for reason in (decision or {}).get("reasons", []))
    for outcome in (Status.APPROVED.value, Status.REJECTED.value):
        outcomes.add_metric([outcome], float(by_status.get(outcome, 0)))
    yield outcomes
    rejected = CounterMetricFamily("loanflow_rejection_reasons", "Rejection reasons given.", labels=["code"])
    for code, count in sorted(reasons.items()):
        rejected.add_metric([code], float(count))
    yield rejected
    reviews = GaugeMetricFamily("loanflow_reviews", "Referred applications waiting for the officers' review, "
                                "by timing against their due time (working hours) and escalation.",
                                labels=["timing", "escalated"])
    for (timing, escalated), count in timing_counts(rt).items():
        reviews.add_metric([timing, "true" if escalated else "false"], float(count))
    yield reviews
    buckets = [(str(bound), float(sum(1 for d in durations if d <= bound))) for bound in DECISION_BUCKETS]
    buckets.append(("+Inf", float(len(durations))))
    yield HistogramMetricFamily("loanflow_submission_to_decision_seconds",
                                "Time from submission to the decision (approved or rejected).",
                                buckets=buckets, sum_value=sum(durations))
