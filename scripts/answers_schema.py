"""Write the per-type part of ``assets/answers.schema.json`` from the tables.

The ``secretsManager`` and ``storage`` sections' properties (the types, each type's
fields, the buckets) are generated from ``SECRETS_MANAGERS``/``STORAGES`` in
``airbox/config/specs.py``; the rest of the schema is written by hand. Run it after
changing a table; ``tests/test_answers_schema.py`` fails until the file is regenerated.

    .venv/bin/python scripts/answers_schema.py [--check]

``--check`` writes nothing and exits 1 when the file differs from the tables.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = ROOT / "assets" / "answers.schema.json"


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(ROOT))
    from airbox.config.specs import with_type_schemas

    committed = json.loads(SCHEMA.read_text(encoding="utf-8"))
    generated = with_type_schemas(committed)
    if generated == committed:
        print(f"{SCHEMA.relative_to(ROOT)} agrees with the tables")
        return 0
    if "--check" in argv:
        print(
            f"{SCHEMA.relative_to(ROOT)} differs from the tables: run scripts/answers_schema.py",
            file=sys.stderr,
        )
        return 1
    SCHEMA.write_text(json.dumps(generated, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {SCHEMA.relative_to(ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
