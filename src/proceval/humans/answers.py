"""What a trial form must hold to be stored: its answer checked against the participant's plan and the item."""

from __future__ import annotations

import re
from typing import Any

from starlette.datastructures import FormData

from proceval.humans.http import IDEMPOTENCY_KEY, MAX_FREE_TEXT, HttpError, _form_int, _form_text
from proceval.humans.pages import Study
from proceval.humans.storage import SessionRow

_WHOLE_NUMBER = re.compile(r"-?\d{1,6}")


class NoAnswer(Exception):
    """The form for trial ``position`` came without an answer (or with free text of only spaces)."""

    def __init__(self, position: int) -> None:
        super().__init__(f"no answer to trial {position + 1}")
        self.position = position


def checked_answer(study: Study, session: SessionRow, form: FormData) -> dict[str, Any]:
    """The trial form's answer as ``StudyStore.save_answer``'s arguments. Raises :class:`HttpError` for a form
    the study page cannot have sent, :class:`NoAnswer` for an empty answer."""
    key = _form_text(form, "key", max_len=64)
    if not IDEMPOTENCY_KEY.match(key):
        raise HttpError(400, "The form's key is malformed. Please reload the page.")
    if session.plan is None:
        raise HttpError(409, "The trials have not started yet.")
    position = _form_int(form, "position")
    if not 0 <= position < len(session.plan):
        raise HttpError(400, f"There is no trial number {position + 1} in this study.")
    trial = study.trial(session, position)
    ref = _form_text(form, "item_id", max_len=128)
    if ref != study.public_ref(trial):
        if ref in study.items or ref in study.check_refs:
            raise HttpError(400, "That item is not the one at this point of your study.")
        raise HttpError(400, "Unknown item.")
    response = form.get("response")
    if response is None or response == "":
        raise NoAnswer(position)
    if not isinstance(response, str):
        raise HttpError(400, "The answer must be text.")
    correct: bool | None = None
    item = trial.item
    if trial.check is not None:
        if response not in {o.key for o in trial.check.options}:
            raise HttpError(400, "That option is not on offer.")
        correct = response == trial.check.answer
    else:
        assert item is not None
        if item.response_type == "choice":
            if response not in {o["key"] for o in item.options}:
                raise HttpError(400, "That option is not on offer.")
            correct = None  # scored by the analysis, not here
        elif item.response_type == "rating":
            low, high = item.scale
            if not _WHOLE_NUMBER.fullmatch(response) or not low <= int(response) <= high:
                raise HttpError(400, f"A rating must be a whole number from {low} to {high}.")
            response = str(int(response))
        else:
            if len(response) > MAX_FREE_TEXT:
                raise HttpError(400, f"The answer is too long (at most {MAX_FREE_TEXT} characters).")
            if not response.strip():
                raise NoAnswer(position)
    config = study.config
    comment = _form_text(form, "comment", max_len=config.max_comment_chars, required=False).strip()
    if comment and not config.comments:
        raise HttpError(400, "Comments are not collected in this study.")
    return dict(
        session_id=session.id, position=position, kind=trial.kind, item_id=trial.ref, response=response, key=key,
        n_trials=len(session.plan), next_stage=study.after_trials,
        condition=item.condition_name if item else None, scenario_id=item.scenario_id if item else None,
        correct=correct, comment=comment or None, option_order=trial.order, pilot=session.pilot)
