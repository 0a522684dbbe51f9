#!/usr/bin/env python3
"""Checks every record of the catalog pull (benches/http/pull.yaml) against the catalog it was
read from: the active products, in catalog order, each mapped as shared/reference/benchmarks.md
says, prices rounded half away from zero to 2 decimals.
    check_pull.py CATALOG.ndjson PULLED.ndjson"""
import json
import sys
from decimal import ROUND_HALF_UP, Decimal


def expected(record):
    return {
        "reference": record["sku"],
        "barcode": str(record["ean13"]),
        "name": record["name"],
        "price": Decimal(record["price"]).quantize(Decimal("0.01"), rounding=ROUND_HALF_UP),
        "quantity": record["stock"],
        "shop_state": "published",
    }


def main(catalog_path, pulled_path):
    with open(catalog_path) as catalog, open(pulled_path) as pulled:
        wanted = (expected(r) for r in map(json.loads, catalog) if r["status"] == "active")
        got = (json.loads(line, parse_float=Decimal) for line in pulled)
        count = 0
        try:
            for count, (want, have) in enumerate(zip(wanted, got, strict=True), start=1):
                if want != have:
                    sys.exit(f"record {count} differs:\n  expected {want}\n  got      {have}")
        except ValueError:
            sys.exit(f"the pull wrote a different number of records (same up to record {count})")
    print(f"check: all {count} pulled records are the expected ones")


if __name__ == "__main__":
    main(*sys.argv[1:])
