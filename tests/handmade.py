"""Hand-built export rows: one made-up charge whose fields a test changes one at a time."""

from __future__ import annotations

import csv
from pathlib import Path

# The 2016-style export header: no SeqID column, so every row takes the fallback rule.
HEADER_2016 = ["Date Of Stop", "Time Of Stop", "Agency", "SubAgency", "Description", "Location", "Latitude",
               "Longitude", "Accident", "Belts", "Personal Injury", "Property Damage", "Fatal",
               "Commercial License", "HAZMAT", "Commercial Vehicle", "Alcohol", "Work Zone", "State",
               "VehicleType", "Year", "Make", "Model", "Color", "Violation Type", "Charge", "Article",
               "Contributed To Accident", "Race", "Gender", "Driver City", "Driver State", "DL State",
               "Arrest Type", "Geolocation"]


def charge(**changes: str) -> dict[str, str]:
    """One charge of a made-up stop in Rockville; ``changes`` override single fields."""
    row = {h: "No" for h in HEADER_2016}
    row.update({
        "Date Of Stop": "03/01/2016", "Time Of Stop": "10:00:00", "Agency": "MCP",
        "SubAgency": "1st District, Rockville", "Description": "EXCEEDING THE POSTED SPEED LIMIT OF 40 MPH",
        "Location": "ROCKVILLE PIKE AT HALPINE RD", "Latitude": "39.0620", "Longitude": "-77.1230",
        "State": "MD", "VehicleType": "02 - Automobile", "Year": "2011", "Make": "HONDA", "Model": "CIVIC",
        "Color": "GRAY", "Violation Type": "Citation", "Charge": "21-801.1", "Article": "Transportation Article",
        "Race": "WHITE", "Gender": "F", "Driver City": "ROCKVILLE", "Driver State": "MD", "DL State": "MD",
        "Arrest Type": "A - Marked Patrol", "Geolocation": "",
    })
    row.update(changes)
    return row


def write_csv(path: Path, rows: list[dict[str, str]], header: list[str] = HEADER_2016) -> Path:
    with open(path, "w", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)
    return path
