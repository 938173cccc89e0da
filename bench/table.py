"""The one table format every benchmark prints."""

from dataclasses import dataclass, field


@dataclass
class Row:
    figure: str
    value: float
    unit: str
    reference: float | None = None  # a comparable figure measured in the same run, or a target
    reference_label: str = ""

    @property
    def ratio(self) -> str:
        if not self.reference:
            return ""
        return f"{self.value / self.reference:.2f}x {self.reference_label}".rstrip()


@dataclass
class Table:
    title: str
    rows: list[Row] = field(default_factory=list)

    def add(
        self, figure: str, value: float, unit: str, reference: float | None = None, label: str = ""
    ) -> None:
        self.rows.append(Row(figure, value, unit, reference, label))

    def render(self) -> str:
        header = ("figure", "value", "unit", "ratio")
        body = [(r.figure, f"{r.value:,.1f}", r.unit, r.ratio) for r in self.rows]
        widths = [max(len(line[i]) for line in [header, *body]) for i in range(4)]
        fmt = " | ".join(f"{{:{'>' if i == 1 else '<'}{w}}}" for i, w in enumerate(widths))
        lines = [f"## {self.title}", fmt.format(*header), "-+-".join("-" * w for w in widths)]
        lines += [fmt.format(*line) for line in body]
        return "\n".join(lines)
