"""IPC subclasses counted as strategic emerging industries (战略性新兴产业).

CNIPA's 《战略性新兴产业分类与国际专利分类参照关系表(2021)》 maps industries to IPC groups; it is
long and group-level. This is a documented subclass-level subset of it covering the nine
industries (new-generation IT, high-end equipment, new materials, biotech, new-energy
vehicles, new energy, energy saving/environment, digital creativity, aerospace/marine). A patent
is SEI when any of its IPC subclasses is listed. Replace the tuple to use the full table.
"""

from __future__ import annotations

SEI_SUBCLASSES: tuple[str, ...] = (
    # new-generation information technology
    "G06F",
    "G06N",
    "G06K",
    "G06Q",
    "G06T",
    "G06V",
    "G16H",
    "G16B",
    "H04L",
    "H04W",
    "H04N",
    "H04B",
    "H01L",
    "H10B",
    "H10K",
    "G11C",
    # high-end equipment
    "B25J",
    "B23K",
    "B33Y",
    "G05B",
    "G01N",
    "B64C",
    "B64D",
    "B64U",
    "B61L",
    "B63B",
    # new materials
    "C01B",
    "C04B",
    "C08G",
    "C08L",
    "C22C",
    "B82Y",
    # biotechnology and medicine
    "A61K",
    "A61P",
    "C07K",
    "C12N",
    "C12Q",
    "A61B",
    "A61F",
    "A61M",
    # new-energy vehicles and new energy
    "B60L",
    "B60K",
    "H01M",
    "H02J",
    "H02S",
    "F03D",
    "H02K",
    "F24S",
    # energy saving and environment
    "B01D",
    "C02F",
    "F23G",
    "B09B",
    "Y02A",
)
