"""The failed-task notice: one short message naming DAG, task, logical date and log URL.

Plain data in, payload out: the fields come from a task context in
``replica_ledger.airflow.failure`` (the ``on_failure_callback``), which posts it or writes
it to the outbox. A failure that carries a list of problems (the preflight's
``problems``) lists them, one line each, so the platform route reads every missing item.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from replica_ledger.alerts.blocks import escape_mrkdwn, message_payload, section_block
from replica_ledger.alerts.budget import clip, fit_lines
from replica_ledger.alerts.routes import safe_filename

MAX_ERROR_CHARS = 300


def failure_payload(fields: Mapping[str, Any]) -> dict[str, Any]:
    """The short Block Kit message for a failed task."""
    dag_id, task_id = fields["dag_id"], fields["task_id"]
    when = fields.get("logical_date") or "none (no logical date)"
    tries = f" (try {fields['try_number']})" if fields.get("try_number") else ""
    log_url = fields.get("log_url")
    lines = [
        f":red_circle: *Task failed*: `{escape_mrkdwn(dag_id)}.{escape_mrkdwn(task_id)}`{tries}",
        f"Logical date: {escape_mrkdwn(when)}",
        f"Log: <{log_url}|open the task log>" if log_url else "Log: no URL available",
    ]
    if fields.get("error"):
        lines.append(f"Error: `{escape_mrkdwn(clip(fields['error'], MAX_ERROR_CHARS, '…'))}`")
    blocks = [section_block("\n".join(lines))]
    problems = list(fields.get("problems") or ())
    if problems:
        items = [f"• {escape_mrkdwn(clip(str(problem), MAX_ERROR_CHARS, '…'))}" for problem in problems]
        blocks.append(section_block(fit_lines([f"*Missing ({len(problems)}):*", *items])))
    text = f"Task failed: {dag_id}.{task_id}{tries}, logical date {when}. Log: {log_url or 'n/a'}"
    if problems:
        text += f". Missing: {'; '.join(str(problem) for problem in problems)}"
    return message_payload(text, blocks)


def failure_outbox_stem(fields: Mapping[str, Any]) -> str:
    """The outbox file name (without extension) of a failure notice."""
    return "__".join(
        safe_filename(str(x))
        for x in (
            (fields["logical_date"] or "no-date")[:10],
            fields["run_id"] or "no-run",
            "failure",
            f"{fields['dag_id']}.{fields['task_id']}",
            f"try{fields['try_number'] or 0}",
        )
    )
