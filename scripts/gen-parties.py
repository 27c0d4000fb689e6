#!/usr/bin/env python3
"""Writes src/parties/table.rs: the delegations rapporteur recognises by name (the 193 UN
member states, the two observer states, and the groups that speak in negotiations), each with
its key, its English name and the names it goes by in English, French and Spanish.

Country names come from CLDR (through `babel`, Unicode licence) and ISO 3166 (through
`pycountry`); keys and UN-style display names are chosen here. Run it again after changing the
lists below:  python3 scripts/gen-parties.py  (needs `pip install babel pycountry`).
"""
import json
import pathlib
import unicodedata

import pycountry
from babel import Locale

NOT_STATES = set(
    "AW AI AX AS AQ TF BQ BL BM BV CC CK CW CX KY EH FK FO GG GI GP GL GF GU HK HM IM IO JE MO "
    "MF MP MS MQ YT NC NF NU PN PR PF RE GS SH SJ PM SX TC TK TW UM VG VI WF".split()
)
# (key, display name) where CLDR's short English name is not the one used in UN rooms.
DISPLAY = {
    "RU": "Russian Federation", "KR": "Republic of Korea", "KP": "Democratic People's Republic of Korea",
    "PS": "State of Palestine", "VA": "Holy See", "IR": "Iran", "SY": "Syria", "VE": "Venezuela",
    "BO": "Bolivia", "TZ": "Tanzania", "VN": "Viet Nam", "TR": "Türkiye", "LA": "Laos",
    "CI": "Côte d'Ivoire", "MD": "Republic of Moldova", "CD": "Democratic Republic of the Congo",
    "CG": "Congo", "MM": "Myanmar", "CV": "Cabo Verde", "FM": "Micronesia", "BN": "Brunei Darussalam",
    "AG": "Antigua and Barbuda", "BA": "Bosnia and Herzegovina", "KN": "Saint Kitts and Nevis",
    "LC": "Saint Lucia", "VC": "Saint Vincent and the Grenadines", "ST": "Sao Tome and Principe",
    "TT": "Trinidad and Tobago", "US": "United States", "GB": "United Kingdom", "CZ": "Czechia",
    "SZ": "Eswatini", "TL": "Timor-Leste", "GM": "Gambia", "BS": "Bahamas", "NL": "Netherlands",
}
# Further names: official and older forms, capitals used as metonyms in speeches.
EXTRA = {
    "RU": ["Russia", "Moscow", "Kremlin", "the Kremlin", "Fédération de Russie", "Federación de Rusia"], "UA": ["Kyiv", "Kiev"],
    "US": ["United States of America", "USA", "US", "U.S.", "Washington", "États-Unis d'Amérique", "Estados Unidos de América"],
    "GB": ["United Kingdom of Great Britain and Northern Ireland", "UK", "U.K.", "Britain", "Great Britain", "London"],
    "CN": ["People's Republic of China", "Beijing", "Chine", "China"], "FR": ["Paris"],
    "IR": ["Islamic Republic of Iran", "Iran (Islamic Republic of)", "Tehran"],
    "KP": ["DPRK", "North Korea", "Pyongyang"], "KR": ["South Korea", "Korea", "Seoul"],
    "SY": ["Syrian Arab Republic", "Damascus"], "IL": ["Tel Aviv"], "PS": ["Palestine"],
    "VE": ["Bolivarian Republic of Venezuela", "Venezuela (Bolivarian Republic of)", "Caracas"],
    "BO": ["Plurinational State of Bolivia", "Bolivia (Plurinational State of)"],
    "TZ": ["United Republic of Tanzania"], "VN": ["Vietnam"], "TR": ["Turkey", "Turkiye", "Ankara"],
    "LA": ["Lao People's Democratic Republic", "Lao PDR"], "CI": ["Ivory Coast"],
    "MD": ["Moldova"], "CD": ["DRC", "DR Congo", "Kinshasa"], "CG": ["Republic of the Congo", "Brazzaville"],
    "CV": ["Cape Verde"], "CZ": ["Czech Republic"], "MK": ["Macedonia"], "SZ": ["Swaziland"],
    "VA": ["Vatican"], "AF": ["Kabul"], "BY": ["Minsk"], "AZ": ["Baku"], "AM": ["Yerevan"],
    "JP": ["Tokyo"], "IN": ["New Delhi"], "DE": ["Berlin"], "BR": ["Brasilia"], "MM": ["Burma"],
}
# The official forms French and Spanish speakers use, which CLDR's short names lack.
OFFICIAL_FR_ES = {
    "CD": ["République démocratique du Congo", "República Democrática del Congo"],
    "CG": ["République du Congo", "República del Congo"],
    "SY": ["République arabe syrienne", "República Árabe Siria"],
    "IR": ["République islamique d'Iran", "République islamique d’Iran", "República Islámica del Irán", "República Islámica de Irán"],
    "VE": ["République bolivarienne du Venezuela", "República Bolivariana de Venezuela"],
    "BO": ["État plurinational de Bolivie", "Estado Plurinacional de Bolivia"],
    "PS": ["État de Palestine", "Estado de Palestina"],
    "VA": ["Saint-Siège", "Santa Sede"],
    "KR": ["République de Corée", "República de Corea"],
    "KP": ["République populaire démocratique de Corée", "República Popular Democrática de Corea"],
    "TZ": ["République-Unie de Tanzanie", "República Unida de Tanzanía"],
    "MD": ["République de Moldova", "República de Moldova"],
    "LA": ["République démocratique populaire lao", "República Democrática Popular Lao"],
    "GB": ["Royaume-Uni de Grande-Bretagne et d'Irlande du Nord", "Reino Unido de Gran Bretaña e Irlanda del Norte"],
    "FM": ["États fédérés de Micronésie", "Estados Federados de Micronesia"],
    "MK": ["Macédoine du Nord", "Macedonia del Norte"],
    "CZ": ["République tchèque", "República Checa"],
    "DO": ["République dominicaine", "República Dominicana"],
    "CF": ["République centrafricaine", "República Centroafricana"],
}
# Groups and organisations that take the floor or are named as parties.
GROUPS = [
    ("european union", "European Union", ["EU", "the European Union", "Union européenne", "Unión Europea", "Brussels"]),
    ("group of 77 and china", "Group of 77 and China", ["G77 and China", "G-77 and China", "Group of 77", "G77", "G-77",
        "Groupe des 77 et la Chine", "Groupe des 77", "Grupo de los 77 y China", "Grupo de los 77"]),
    ("african group", "African Group", ["Groupe africain", "Grupo Africano", "Group of African States"]),
    ("arab group", "Arab Group", ["Groupe arabe", "Grupo Árabe", "Group of Arab States"]),
    ("alliance of small island states", "Alliance of Small Island States", ["AOSIS", "Alliance des petits États insulaires"]),
    ("least developed countries", "Least Developed Countries", ["LDC Group", "LDCs", "Group of Least Developed Countries"]),
    ("non-aligned movement", "Non-Aligned Movement", ["NAM", "Movement of Non-Aligned Countries", "Mouvement des pays non alignés", "Movimiento de Países No Alineados"]),
    ("african union", "African Union", ["AU", "Union africaine", "Unión Africana"]),
    ("asean", "ASEAN", ["Association of Southeast Asian Nations"]),
    ("caricom", "CARICOM", ["Caribbean Community"]),
    ("league of arab states", "League of Arab States", ["Arab League"]),
    ("organisation of islamic cooperation", "Organisation of Islamic Cooperation", ["OIC", "Organization of Islamic Cooperation"]),
    ("nato", "NATO", ["North Atlantic Treaty Organization", "OTAN"]),
    ("environmental integrity group", "Environmental Integrity Group", ["EIG"]),
    ("umbrella group", "Umbrella Group", []),
    ("like-minded developing countries", "Like-Minded Developing Countries", ["LMDC", "LMDCs"]),
    ("basic", "BASIC", ["BASIC group"]),
    ("united nations", "United Nations", ["UN", "the United Nations", "Organisation des Nations Unies", "Naciones Unidas"]),
    ("european commission", "European Commission", ["the Commission", "Commission européenne", "Comisión Europea"]),
    ("chinese taipei", "Chinese Taipei", ["Separate Customs Territory of Taiwan, Penghu, Kinmen and Matsu"]),
    ("secretariat", "Secretariat", ["the Secretariat", "Secrétariat", "Secretaría"]),
]


def is_acronym(s):
    """Short capitals ("US", "EU", "UN"): matched only as written, never as the words "us" or "un"."""
    bare = s.replace(".", "")
    return bare.isupper() and bare.isalpha() and len(bare) <= 5


def fold(s):
    """Lower case, accents off, one kind of apostrophe and hyphen as space: what the matcher sees."""
    s = s.replace("’", "'").replace("&", " and ").replace("-", " ").replace(".", "")
    s = "".join(c for c in unicodedata.normalize("NFD", s) if unicodedata.category(c) != "Mn")
    s = " ".join(s.lower().split())
    return s[4:] if s.startswith("the ") else s


def main():
    en, fr, es = (Locale(l).territories for l in ("en", "fr", "es"))
    rows = []
    for c in sorted(pycountry.countries, key=lambda c: c.alpha_2):
        code = c.alpha_2
        if code in NOT_STATES:
            continue
        name = DISPLAY.get(code, en[code].split(" (")[0])
        names = {name, en[code], fr[code], es[code], c.name, getattr(c, "official_name", c.name),
                 getattr(c, "common_name", c.name)} | set(EXTRA.get(code, [])) | set(OFFICIAL_FR_ES.get(code, []))
        # ISO writes "Korea, Republic of": say it as spoken.
        names |= {" ".join(reversed(n.split(", ", 1))) for n in list(names) if ", " in n}
        names = {n.split(" (")[0] if "(" in n and code not in ("IR", "VE", "BO") else n for n in names}
        rows.append((fold(name), name, names))
    assert len(rows) == 195, len(rows)
    for key, name, names in GROUPS:
        rows.append((fold(key), name, set(names + [name])))
    rows = [(key, name, sorted({fold(n) for n in names if "," not in n and not is_acronym(n)}),
             sorted({n.replace(".", "") for n in names if is_acronym(n)})) for key, name, names in rows]
    seen = {}
    for key, _, names, _ in rows:
        for n in names:
            assert seen.setdefault(n, key) == key, (n, key, seen[n])
    out = ["// @generated by scripts/gen-parties.py from CLDR (babel) and ISO 3166 (pycountry): do not edit.",
           "", "/// (key, English name, every name it goes by folded by `fold`, acronyms matched as written).",
           "pub(super) const PARTIES: &[(&str, &str, &[&str], &[&str])] = &["]
    for key, name, names, acronyms in rows:
        q = json.dumps
        out.append(f"    ({q(key, ensure_ascii=False)}, {q(name, ensure_ascii=False)}, &[{', '.join(q(n) for n in names)}], &[{', '.join(q(n) for n in acronyms)}]),")
    out.append("];")
    pathlib.Path(__file__).resolve().parent.parent.joinpath("src/parties/table.rs").write_text("\n".join(out) + "\n")


if __name__ == "__main__":
    main()
