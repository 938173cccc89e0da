"""The words of alert messages, in each language a recipient may choose (zh_CN, en): chat groups and mail
read them outside the pages, so they live here rather than in the pages' catalogs."""

from collections.abc import Sequence

RULE_NAMES: dict[str, dict[str, str]] = {
    "machine_down": {"en": "Machine down", "zh_CN": "机台停机"},
    "scrap_rate": {"en": "Scrap rate high", "zh_CN": "废品率过高"},
    "order_late": {"en": "Order late", "zh_CN": "订单逾期"},
    "order_at_risk": {"en": "Order at risk", "zh_CN": "订单有逾期风险"},
    "nc_opened": {"en": "Nonconformance opened", "zh_CN": "不合格品已登记"},
    "spc_violation": {"en": "SPC rule violated", "zh_CN": "SPC 判异"},
    "inspection_overdue": {"en": "Inspection overdue", "zh_CN": "检验逾期"},
    "edge_offline": {"en": "Edge offline", "zh_CN": "采集网关离线"},
    "data_loss": {"en": "Machine data lost", "zh_CN": "机台数据丢失"},
    "daily_brief": {"en": "Daily brief", "zh_CN": "每日简报"},
}
PURPOSES: dict[str, dict[str, str]] = {
    "opened": {"en": "", "zh_CN": ""},
    "resolved": {"en": "Resolved: ", "zh_CN": "已恢复："},
    "escalated": {"en": "Still open: ", "zh_CN": "仍未解决："},
}
UNITS: dict[str, dict[str, str]] = {
    "machine_down": {"en": "{v} min", "zh_CN": "{v} 分钟"},
    "edge_offline": {"en": "{v} min", "zh_CN": "{v} 分钟"},
    "scrap_rate": {"en": "{v:.1%}", "zh_CN": "{v:.1%}"},
    "order_late": {"en": "{v:.0f} % done", "zh_CN": "已完成 {v:.0f}%"},
    "order_at_risk": {"en": "{v:.0f} % done", "zh_CN": "已完成 {v:.0f}%"},
    "data_loss": {"en": "{v:.0f} samples", "zh_CN": "{v:.0f} 个数据点"},
    "nc_opened": {"en": "qty {v:.0f}", "zh_CN": "数量 {v:.0f}"},
    "inspection_overdue": {"en": "{v:.0f} due", "zh_CN": "{v:.0f} 项待检"},
}
COUNT = {"en": "{n} items", "zh_CN": "{n} 项"}
TEST = {"en": ("Takt test message", "This channel works: alerts will arrive here."),
        "zh_CN": ("Takt 测试消息", "此通道可用：报警将发送到这里。")}  # fmt: skip


def lang_of(lang: str | None) -> str:
    return "en" if lang == "en" else "zh_CN"


def rule_name(kind: str, lang: str) -> str:
    return RULE_NAMES.get(kind, {}).get(lang_of(lang), kind)


def value_text(kind: str, value: float | None, lang: str) -> str:
    pattern = UNITS.get(kind, {}).get(lang_of(lang))
    return pattern.format(v=value) if pattern is not None and value is not None else ""


def title(kind: str, purpose: str, labels: Sequence[str], lang: str) -> str:
    """`Machine down: Press 1`, or for a group `Machine down: 20 items`."""
    lang = lang_of(lang)
    what = labels[0] if len(labels) == 1 else COUNT[lang].format(n=len(labels))
    colon = ": " if lang == "en" else "："
    return f"{PURPOSES.get(purpose, PURPOSES['opened'])[lang]}{rule_name(kind, lang)}{colon}{what}"
