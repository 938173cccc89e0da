"""Metric values written and read back by data type (shared/sparkplug/payload.py)."""

import pytest

from shared.sparkplug.payload import DataType, Payload, PayloadError, set_value, value_of


@pytest.mark.parametrize(
    ("datatype", "value", "field"),
    [
        (DataType.Int16, -300, "int_value"),
        (DataType.Int32, -2_000_000_000, "int_value"),
        (DataType.UInt16, 65_535, "int_value"),
        (DataType.UInt32, 4_294_967_295, "long_value"),  # as Tahu writes it (its JS decoder reads only that)
        (DataType.Int64, -(1 << 63), "long_value"),
        (DataType.UInt64, (1 << 64) - 1, "long_value"),
        (DataType.Double, 21.5, "double_value"),
        (DataType.Boolean, True, "boolean_value"),
        (DataType.String, "WO-17", "string_value"),
    ],
)
def test_a_value_goes_where_its_type_says_and_reads_back(datatype: int, value: object, field: str) -> None:
    metric = Payload().metrics.add(name="m", datatype=datatype)
    set_value(metric, datatype, value)  # type: ignore[arg-type]
    assert metric.WhichOneof("value") == field
    assert value_of(metric, datatype) == value


def test_values_a_type_cannot_carry_are_refused_and_none_is_null() -> None:
    metric = Payload().metrics.add(name="m", datatype=DataType.UInt32)
    for bad in (1 << 32, 2.5, "x"):
        with pytest.raises(PayloadError):
            set_value(metric, DataType.UInt32, bad)
    set_value(metric, DataType.UInt32, None)
    assert metric.is_null and value_of(metric, DataType.UInt32) is None
