"""pydantic's validation errors in the page's language (server/web/validation.py): mapped types with their
`ctx` parameters, fields by their labels, and pydantic's English for anything not mapped."""

import pytest
from pydantic import ValidationError
from pydantic_core import ErrorDetails

from server.models.auth import UserCreate
from server.models.catalog import ProductCreate
from server.web.validation import Problems, field, message


def _errors(model: type[ProductCreate] | type[UserCreate], data: dict[str, object]) -> list[ErrorDetails]:
    with pytest.raises(ValidationError) as caught:
        model.model_validate(data)
    return caught.value.errors()


def test_nested_fields_are_named_by_their_labels() -> None:
    steps = [{"step_no": 10, "name": "turn"}, {"step_no": 0, "name": "pack"}]
    errors = _errors(ProductCreate, {"code": "NUT", "name": "Nut", "routing": steps})
    assert Problems(errors).localized("zh_CN") == "工艺路线 #2 工序：不能小于 1"
    assert Problems(errors).localized("en") == "Routing #2 Step: must be at least 1"
    assert str(Problems(errors)) == "routing.1.step_no: Input should be greater than or equal to 1"
    assert field("zh_CN", ("body", "quantity")) == "数量"  # FastAPI's request part is not a field
    assert field("zh_CN", ("body", "sample_size")) == "sample_size"  # no label: the field's name
    assert field("zh_CN", ("body", "frequency_n")) == "N（件数或分钟数）"  # the plan form's label


def test_several_problems_and_choices_read_as_chinese() -> None:
    errors = _errors(UserCreate, {"username": "u", "display_name": "U", "role": "boss", "password": "abc"})
    assert Problems(errors).localized("zh_CN") == (
        "角色：须为以下之一：'admin', 'planner', 'supervisor', 'operator', 'inspector', 'payroll'；"
        "密码：至少 8 个字符"
    )


def _error(kind: str, msg: str, **ctx: object) -> ErrorDetails:
    error: ErrorDetails = {"type": kind, "loc": ("x",), "msg": msg, "input": 0}
    if ctx:
        error["ctx"] = ctx
    return error


def test_unknown_or_incomplete_errors_keep_pydantics_english() -> None:
    unknown = _error("url_parsing", "Input should be a valid URL")
    assert message("zh_CN", unknown) == "Input should be a valid URL"
    no_ctx = _error("greater_than", "Input should be greater than 0")
    assert message("zh_CN", no_ctx) == "Input should be greater than 0"


def test_a_validators_own_message_is_translated_when_it_is_a_msgid() -> None:
    msgid = "Nothing was imported. Fix these rows and try again:"
    translated = message("zh_CN", _error("value_error", "Value error", error=ValueError(msgid)))
    assert translated == "没有导入任何数据。请修正以下行后重试："
    assert message("zh_CN", _error("value_error", "Value error, odd", error=ValueError("odd"))) == "odd"
