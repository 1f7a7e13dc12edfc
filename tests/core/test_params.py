"""The shared param definitions: one spec makes both the form's Param and the validation."""

from __future__ import annotations

import datetime as dt

import pytest

from backfill import params as p
from backfill.duckling.params import PARAMS as DUCKLING_PARAMS
from backfill.web_preagg.params import PARAMS as WEB_PARAMS


@pytest.mark.parametrize("param_set", [WEB_PARAMS, DUCKLING_PARAMS], ids=["web_preagg", "duckling"])
def test_form_and_validation_come_from_one_definition(param_set):
    form = param_set.dag_params()
    assert list(form) == [s.name for s in param_set.specs]
    validated = param_set.validate({})
    for spec in param_set.specs:
        param = form[spec.name]
        assert param.value == spec.default and param.description == spec.description
        assert param.schema["title"] == spec.title
        # the form's default passes the Python validation unchanged in meaning
        assert validated[spec.name] == spec.check(spec.default, spec.name)


@pytest.mark.parametrize(
    "param_set, raw, message",
    [
        (WEB_PARAMS, {"team_ids": [1, "2"]}, "param team_ids: '2' is not a valid team id"),
        (DUCKLING_PARAMS, {"team_ids": [1, "2"]}, "param team_ids: '2' is not a valid team id"),
        (WEB_PARAMS, {"nope": 1}, "unknown params ['nope']"),
        (DUCKLING_PARAMS, {"nope": 1}, "unknown params ['nope']"),
        (DUCKLING_PARAMS, {"start_date": "2024-13-01"}, "param start_date='2024-13-01' is invalid"),
        (WEB_PARAMS, {"lookback_days": True}, "param lookback_days=True is invalid"),
    ],
)
def test_one_error_type_names_the_param(param_set, raw, message):
    with pytest.raises(p.ParamsError) as err:
        param_set.validate(raw)
    assert message in str(err.value)


def test_shared_validators():
    assert p.team_id_list(" 3, 1,3 ", "env") == [1, 3]
    with pytest.raises(p.ParamsError, match="env: '0' is not a valid team id"):
        p.team_id_list("1,0", "env")
    assert p.team_ids([3, 1, 3]) == (1, 3)
    assert p.date_value("2024-03-01", "d") == dt.date(2024, 3, 1)
    assert p.finished_utc_day(dt.date(2024, 3, 1), "end_date", dt.date(2024, 3, 2)) == dt.date(2024, 3, 1)
    with pytest.raises(p.ParamsError, match="not a finished UTC day"):
        p.finished_utc_day(dt.date(2024, 3, 2), "end_date", dt.date(2024, 3, 2))
