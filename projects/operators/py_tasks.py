"""Python steps for py.dig: functions and methods bound to params, the digdag task API."""

import digdag


def extract(source, limit=10):
    print(f"extracting {limit} rows from {source}")
    digdag.env.store({"rows": limit})


class Report:
    def __init__(self, title):
        self.title = title

    def plan(self, rows):
        print(f"{self.title}: planning {rows} rows")
        digdag.env.export({"part_size": rows // 2})
        digdag.env.add_subtask(Report.part, part=1)
        digdag.env.add_subtask(Report.part, part=2)

    def part(self, part, part_size):
        print(f"{self.title}: part {part} of size {part_size}")
