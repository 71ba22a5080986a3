"""Property: whatever a client posts as a trial answer, the app stores one valid answer or nothing,
and never fails with a server error."""

from __future__ import annotations

from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from proceval.humans import StudyConfig, create_app

from .conftest import FULL_CONFIG, client_for, make_dataset, participant

junk = st.one_of(st.text(max_size=40), st.sampled_from(["", "-1", "0", "1", "3", "5", "6", "a", "b", "blue",
                                                         "9" * 30, "<script>", "a" * 2000]))


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(data=st.data())
def test_any_trial_post_stores_one_valid_answer_or_nothing(tmp_path_factory, data: st.DataObject) -> None:  # type: ignore[no-untyped-def]
    state = _state(tmp_path_factory.mktemp("prop"))
    client, store, items = state["client"], state["store"], state["items"]
    p = participant(client)
    page = p.current()
    if page.action != "/study/trial":
        client.cookies.clear()
        page = p.step(p.step(p.step(p.open())))
    assert page.action == "/study/trial"
    form = dict(page.hidden)
    valid = page.radios().get("response", [])
    # every draw is independent of the page, so hypothesis can replay and shrink examples
    pick, garbage = data.draw(st.integers(0, 9), label="option"), data.draw(junk, label="garbage")
    form["response"] = valid[pick % len(valid)] if data.draw(st.booleans(), label="valid answer") else garbage
    for field in ("position", "item_id", "key", "csrf", "comment"):
        tampered = data.draw(st.one_of(st.none(), junk), label=field)
        if tampered is not None:
            form[field] = tampered
    dropped = data.draw(st.sampled_from([None, "response", "position", "item_id", "key", "csrf"]), label="drop")
    if dropped is not None:
        form.pop(dropped, None)
    before = store.count_answers()
    response = client.post("/study/trial", data=form)
    after = store.count_answers()
    assert response.status_code in (303, 400, 403, 409), response.text[-400:]
    if response.status_code == 303:
        assert after - before in (0, 1)
    else:
        assert after == before
    if after > before:
        last = list(store.iter_answers())[-1]
        item = items.get(last["item_id"])
        if item is None:
            assert last["item_id"] == "attn-blue" and last["response"] in ("red", "blue")
        elif item.response_type == "choice":
            assert last["response"] in {o["key"] for o in item.options}
        else:
            assert 1 <= int(last["response"]) <= 5
        assert last["comment"] is None or len(last["comment"]) <= 1000


_STATES: dict[str, dict[str, object]] = {}


def _state(tmp: Path) -> dict[str, object]:
    """One app for all examples of the property (a study with many participants)."""
    if "app" not in _STATES:
        dataset = make_dataset(tmp / "ds")
        app = create_app(dataset, StudyConfig.model_validate(FULL_CONFIG), f"sqlite:///{tmp / 'p.db'}")
        _STATES.update(app=app, client=client_for(app), store=app.state.study.store, items=dataset.item_map())
    return _STATES
