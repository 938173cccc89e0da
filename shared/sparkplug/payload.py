"""Sparkplug B payloads: decoded by the specification's protobuf classes, metric values read by data type."""

from google.protobuf.message import DecodeError

from shared.sparkplug.sparkplug_b_pb2 import DataType, Payload

__all__ = [
    "BD_SEQ", "REBIRTH", "DataType", "Metric", "Payload", "PayloadError", "ScalarValue", "bd_seq", "decode",
    "set_value", "value_of",
]  # fmt: skip

Metric = Payload.Metric
ScalarValue = int | float | bool | str | None

BD_SEQ = "bdSeq"
REBIRTH = "Node Control/Rebirth"

# signed integers travel as two's complement in the unsigned field (Sparkplug 3.0): Int8..Int32 in the
# 32-bit int_value (sign-extended by Tahu, or at their own width by some), Int64 in the 64-bit long_value
_SIGNED_BITS = {DataType.Int8: 8, DataType.Int16: 16, DataType.Int32: 32, DataType.Int64: 64}
_SCALAR_FIELDS = frozenset(
    {"int_value", "long_value", "float_value", "double_value", "boolean_value", "string_value"}
)


class PayloadError(ValueError):
    """A payload that is not a usable Sparkplug B message (the reason says why)."""


def decode(data: bytes) -> Payload:
    payload = Payload()
    try:
        payload.ParseFromString(data)
    except DecodeError as exc:
        raise PayloadError(f"malformed Sparkplug B protobuf: {exc}") from None
    return payload


def value_of(metric: Metric, datatype: int) -> ScalarValue:
    """The metric's scalar value read as `datatype` (its birth's type when the data message omits it);
    None for a null metric. Raises PayloadError for a value Takt cannot use (arrays, data sets, templates)."""
    if metric.is_null:
        return None
    field = metric.WhichOneof("value")
    if field is None:
        return None
    if field not in _SCALAR_FIELDS:
        raise PayloadError(f"metric {metric.name or metric.alias}: {field} values are not supported")
    value: ScalarValue = getattr(metric, field)
    bits = _SIGNED_BITS.get(datatype)  # type: ignore[call-overload]
    if bits is not None and isinstance(value, int):
        width = 64 if bits == 64 else (32 if value >= 1 << 31 else bits)
        if value >= 1 << (width - 1):
            value -= 1 << width
    return value


# UInt32 goes in the 64-bit long_value, as Eclipse Tahu's encoders (Java and JavaScript) write it: Tahu's
# JavaScript decoder reads UInt32 from long_value only (an int_value UInt32 decodes as null there), its Java
# decoder reads either, and so does `value_of`.
_INT32_FIELD = frozenset({DataType.Int8, DataType.Int16, DataType.Int32, DataType.UInt8, DataType.UInt16})
_INT64_FIELD = frozenset({DataType.UInt32, DataType.Int64, DataType.UInt64, DataType.DateTime})


def set_value(metric: Metric, datatype: int, value: ScalarValue) -> None:
    """Write `value` into the metric's field for `datatype` (None: is_null). Signed integers go as two's
    complement of the field's width; raises PayloadError for a value the type cannot carry."""
    if value is None:
        metric.is_null = True
        return
    try:
        if datatype in _INT32_FIELD or datatype in _INT64_FIELD:
            number = int(value)
            if number != value:
                raise ValueError(f"{value!r} is not a whole number")
            width = 64 if datatype in _INT64_FIELD else 32
            bits = 32 if datatype == DataType.UInt32 else width
            if not -(1 << (bits - 1)) <= number < 1 << bits:
                raise ValueError(f"{number} does not fit {bits} bits")
            field = "long_value" if width == 64 else "int_value"
            setattr(metric, field, number % (1 << width))
        elif datatype == DataType.Float:
            metric.float_value = float(value)
        elif datatype == DataType.Double:
            metric.double_value = float(value)
        elif datatype == DataType.Boolean:
            metric.boolean_value = bool(value)
        elif datatype in (DataType.String, DataType.Text):
            metric.string_value = str(value)
        else:
            raise ValueError(f"data type {datatype} is not supported")
    except (TypeError, ValueError) as exc:
        raise PayloadError(f"metric {metric.name or metric.alias}: {exc}") from None


def bd_seq(payload: Payload) -> int | None:
    """The payload's bdSeq metric (NBIRTH and NDEATH carry it), if any."""
    for metric in payload.metrics:
        if metric.name == BD_SEQ:
            found = value_of(metric, metric.datatype)
            return found if isinstance(found, int) and not isinstance(found, bool) else None
    return None
