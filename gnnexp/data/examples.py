"""Real example data that installed packages ship, for offline tests and ``make reproduce``."""

from __future__ import annotations

import csv
from pathlib import Path

from gnnexp.errors import GnnexpError


def freewilson_csv(out: Path) -> Path:
    """RDKit's Free-Wilson example (ChEMBL 2321810: 1,017 molecules with their pIC50) joined
    into one CSV at ``out`` with the columns smiles, id, activity."""
    try:
        import rdkit
    except ImportError:
        raise GnnexpError("the ChEMBL example ships with RDKit.", "pip install 'gnnexp[chem]'.") from None
    data = Path(rdkit.__file__).parent / "Contrib" / "FreeWilson" / "data"
    with (data / "CHEMBL2321810_act.csv").open() as stream:
        acts = {row["Name"]: row["Act"] for row in csv.DictReader(stream)}
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["smiles", "id", "activity"])
        for line in (data / "CHEMBL2321810.smi").read_text().splitlines():
            smiles, name = line.split()[:2]
            writer.writerow([smiles, name, acts[name]])
    return out
