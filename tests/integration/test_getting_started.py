"""The guide's getting-started flow, as far as the SQL this cluster supports goes."""

from __future__ import annotations

import pathlib

SHARED = pathlib.Path(__file__).resolve().parents[3] / "shared" / "data" / "quickstart"


def expected_rows() -> list[tuple[str, float]]:
    lines = (SHARED / "expected-output.txt").read_text().splitlines()
    rows = []
    for line in lines:
        if line.startswith(" Example Department"):
            name, total = (part.strip() for part in line.split("|"))
            rows.append((name, float(total)))
    return rows


def test_getting_started(psql):
    import pytest
    if not SHARED.exists():
        pytest.skip(f"quickstart data not found at {SHARED}")
    psql("-c", "CREATE SCHEMA example")
    psql("-c", "CREATE TABLE example.invoice(id UUID PRIMARY KEY DEFAULT gen_random_uuid(), created\n"
               "timestamp, purchaser int, amount float)")
    psql("-c", "CREATE INDEX invoice_created_idx on example.invoice(created)")
    psql("-c", "CREATE TABLE example.department(id INT PRIMARY KEY UNIQUE, name text, email text)")
    psql("-c", f"\\include {SHARED / 'department-insert-multirow.sql'}")

    # As the guide: psql's \copy streams the CSV over COPY FROM STDIN (single-quoted timestamps, CRLF).
    out = psql("-c", f"\\copy example.invoice(created, purchaser, amount) from {SHARED / 'invoice.csv'} csv")
    assert out.stdout.strip() == "COPY 2999"
    assert psql("-tAc", "SELECT count(*) FROM example.invoice").stdout.strip() == "2999"

    out = psql("-tA", "-F", "|", "-c", """SELECT name, sum(amount) AS sum_amount
FROM example.department LEFT JOIN example.invoice ON
department.id=invoice.purchaser
GROUP BY name
HAVING sum(amount) > 0
ORDER BY sum_amount DESC;""").stdout
    got = [(name, float(total)) for name, total in (line.split("|") for line in out.splitlines() if line)]
    want = expected_rows()
    assert [name for name, _ in got] == [name for name, _ in want]
    for (_, g), (_, w) in zip(got, want):
        assert abs(g - w) < 1e-6 * abs(w)   # float sums depend on summation order
