#!/usr/bin/env python3
"""A fake Sage 100 database: schema.sql + triggers-sqlite.sql + generated rows.

    python3 examples/sage-erp/generate.py --size small --out erp.db
    python3 examples/sage-erp/generate.py --size medium --sql --dialect postgres > data.sql

The rows depend only on --size, --seed and --now: the same three give the same rows.
cbModification values lie in the days before --now (default: the current UTC time, to the
minute), some of them older, many of them shared by several rows (ties). See README.md.
"""

import argparse
import calendar
import os
import queue
import random
import sqlite3
import sys
import threading
import time
import unicodedata

HERE = os.path.dirname(os.path.abspath(__file__))

SIZES = {
    # articles: generated ones, after the hand-written catalogue (HAND_ARTICLES)
    "small": dict(families=0, articles=32, customers=0, documents=0, recent_days=7),
    "medium": dict(families=60, articles=10_000, customers=2_000, documents=2_000,
                   recent_days=10),
    "large": dict(families=400, articles=1_000_000, customers=50_000, documents=20_000,
                  recent_days=10),
}

BATCH = 5_000           # rows per executemany on SQLite
SQL_ROWS = 500          # rows per INSERT statement in --sql (SQL Server takes at most 1000)


# ---------------------------------------------------------------------------------------------
# Tables: the columns this script fills, in the order rows are built, with the value a row
# gets when it does not name the column; then columns every row gets the same value for.

def spec(cols, const=None):
    names = [c for c, _ in cols]
    return dict(cols=names, defaults=dict(cols), const=const or {})


TABLES = {
    "P_UNITE": spec([("cbIndice", None), ("U_Intitule", None), ("cbMarq", None),
                     ("cbModification", None)],
                    {"U_Correspondance": 0, "U_NbUnite": 1}),
    "F_TAXE": spec([("TA_No", None), ("TA_Code", None), ("TA_Intitule", None), ("TA_Taux", None),
                    ("TA_Sens", 1), ("CG_Num", None), ("cbMarq", None), ("cbCreateur", "COLS"),
                    ("cbModification", None), ("cbCreation", None)],
                   {"TA_TTaux": 0, "TA_Type": 0, "cbReplication": 0, "cbFlag": 0}),
    "F_FAMILLE": spec([("FA_CodeFamille", None), ("FA_Type", 0), ("FA_Intitule", None),
                       ("FA_UniteVen", 1), ("FA_Coef", 1.8), ("FA_SuiviStock", 2),
                       ("FA_Central", ""), ("FA_UnitePoids", 2), ("FA_Publie", 1),
                       ("FA_RacineRef", ""), ("cbMarq", None), ("cbCreateur", "COLS"),
                       ("cbModification", None), ("cbCreation", None)],
                      {"FA_HorsStat": 0, "cbProt": 0, "cbReplication": 0, "cbFlag": 0}),
    "F_ARTICLE": spec([("AR_Ref", None), ("AR_Design", None), ("FA_CodeFamille", None),
                       ("AR_Substitut", ""), ("AR_UnitePoids", 2), ("AR_PoidsNet", None),
                       ("AR_PoidsBrut", None), ("AR_UniteVen", 1), ("AR_PrixAch", 0.0),
                       ("AR_Coef", 0.0), ("AR_PrixVen", None), ("AR_PrixTTC", 0),
                       ("AR_SuiviStock", 2), ("AR_Stat01", ""), ("AR_Delai", 0),
                       ("AR_Sommeil", 0), ("AR_Langue1", ""), ("AR_CodeBarre", None),
                       ("AR_Pays", ""), ("AR_DateCreation", None), ("AR_Publie", 1),
                       ("AR_DateModif", None), ("AR_Garantie", 0), ("cbMarq", None),
                       ("cbCreateur", "COLS"), ("cbModification", None), ("cbCreation", None)],
                      {"AR_Raccourci": "", "AR_Gamme1": 0, "AR_Gamme2": 0, "AR_Nomencl": 0,
                       "AR_Escompte": 0, "AR_HorsStat": 0, "AR_VteDebit": 0, "AR_NotImp": 0,
                       "AR_Langue2": "", "AR_CodeFiscal": "", "AR_Contremarque": 0,
                       "AR_FactPoids": 0, "AR_FactForfait": 0, "AR_Photo": "", "AR_CoutStd": 0,
                       "CO_No": 0, "AR_Type": 0, "cbProt": 0, "cbReplication": 0, "cbFlag": 0}),
    "F_ARTCOMPTA": spec([("AR_Ref", None), ("ACP_ComptaCPT_CompteG", "707000"),
                         ("ACP_ComptaCPT_Taxe1", "C20"), ("cbMarq", None),
                         ("cbModification", None), ("cbCreation", None)],
                        {"ACP_Type": 0, "ACP_Champ": 1, "ACP_ComptaCPT_CompteA": "",
                         "ACP_ComptaCPT_Taxe2": "", "ACP_ComptaCPT_Taxe3": "",
                         "ACP_TypeFacture": 0, "cbProt": 0, "cbCreateur": "COLS",
                         "cbReplication": 0, "cbFlag": 0}),
    "F_DEPOT": spec([("DE_No", None), ("DE_Intitule", None), ("DE_Adresse", ""),
                     ("DE_CodePostal", ""), ("DE_Ville", ""), ("DE_Contact", ""),
                     ("DE_Principal", 0), ("DE_Code", ""), ("DE_Telephone", ""),
                     ("DE_EMail", ""), ("cbMarq", None), ("cbModification", None),
                     ("cbCreation", None)],
                    {"DE_Complement": "", "DE_CatCompta": 1, "DE_Region": "", "DE_Pays": "France",
                     "DE_Telecopie": "", "DE_Exclure": 0, "cbProt": 0, "cbCreateur": "COLS",
                     "cbReplication": 0, "cbFlag": 0}),
    "F_ARTSTOCK": spec([("AR_Ref", None), ("DE_No", None), ("AS_QteMini", 0), ("AS_QteMaxi", 0),
                        ("AS_MontSto", 0), ("AS_QteSto", 0), ("AS_QteRes", 0), ("AS_QteCom", 0),
                        ("AS_Principal", 0), ("AS_QtePrepa", 0), ("AS_Mouvemente", 1),
                        ("cbMarq", None), ("cbCreateur", "COLS"), ("cbModification", None),
                        ("cbCreation", None)],
                       {"AS_QteResCM": 0, "AS_QteComCM": 0, "DP_NoPrincipal": 0,
                        "DP_NoControle": 0, "AS_QteAControler": 0, "cbProt": 0,
                        "cbReplication": 0, "cbFlag": 0}),
    "F_COMPTET": spec([("CT_Num", None), ("CT_Intitule", None), ("CT_Type", 0),
                       ("CG_NumPrinc", "411000"), ("CT_Qualite", ""), ("CT_Classement", ""),
                       ("CT_Contact", ""), ("CT_Adresse", ""), ("CT_Complement", ""),
                       ("CT_CodePostal", ""), ("CT_Ville", ""), ("CT_Pays", "France"),
                       ("CT_Identifiant", ""), ("CT_Siret", ""), ("CT_Encours", 0),
                       ("N_CatTarif", 1), ("N_CatCompta", 1), ("CT_DateCreate", None),
                       ("CT_Sommeil", 0), ("CT_Telephone", ""), ("CT_EMail", None),
                       ("cbMarq", None), ("cbCreateur", "COLS"), ("cbModification", None),
                       ("cbCreation", None)],
                      {"CT_CodeRegion": "", "CT_Raccourci": "", "N_Devise": 0, "CT_Ape": "",
                       "CT_Commentaire": "", "N_Expedition": 1, "N_Condition": 1,
                       "CT_Prospect": 0, "CT_Telecopie": "", "CT_Site": "", "CO_No": 0,
                       "DE_No": 0, "cbProt": 0, "cbReplication": 0, "cbFlag": 0}),
    "F_LIVRAISON": spec([("LI_No", None), ("CT_Num", None), ("LI_Intitule", None),
                         ("LI_Adresse", ""), ("LI_Complement", ""), ("LI_CodePostal", ""),
                         ("LI_Ville", ""), ("LI_Pays", "France"), ("LI_Contact", ""),
                         ("LI_Principal", 0), ("LI_Telephone", ""), ("LI_EMail", ""),
                         ("cbMarq", None), ("cbModification", None), ("cbCreation", None)],
                        {"LI_CodeRegion": "", "N_Expedition": 1, "N_Condition": 1,
                         "LI_Telecopie": "", "cbProt": 0, "cbCreateur": "COLS",
                         "cbReplication": 0, "cbFlag": 0}),
    "F_DOCENTETE": spec([("DO_Domaine", 0), ("DO_Type", None), ("DO_Piece", None),
                         ("DO_Date", None), ("DO_Ref", ""), ("DO_Tiers", None), ("DE_No", 1),
                         ("LI_No", 0), ("CT_NumPayeur", None), ("DO_Reliquat", 0),
                         ("DO_Souche", 0), ("DO_DateLivr", None), ("DO_Statut", 2),
                         ("DO_Heure", None), ("DO_Provenance", 0), ("CG_Num", "411000"),
                         ("DO_TotalHT", 0), ("DO_TotalHTNet", 0), ("DO_TotalTTC", 0),
                         ("DO_NetAPayer", 0), ("DO_MontantRegle", 0), ("cbMarq", None),
                         ("cbCreateur", "COLS"), ("cbModification", None), ("cbCreation", None)],
                        {"CO_No": 0, "DO_Period": 1, "DO_Devise": 0, "DO_Cours": 0,
                         "DO_Expedit": 1, "DO_NbFacture": 1, "DO_BLFact": 0, "DO_TxEscompte": 0,
                         "DO_Imprim": 0, "DO_Condition": 1, "DO_Tarif": 1, "DO_Langue": 0,
                         "N_CatCompta": 1, "DO_Transfere": 0, "DO_Cloture": 0, "DO_Attente": 0,
                         "cbProt": 0, "cbReplication": 0, "cbFlag": 0}),
    "F_DOCLIGNE": spec([("DO_Domaine", 0), ("DO_Type", None), ("CT_Num", None),
                        ("DO_Piece", None), ("DL_PieceBC", ""), ("DL_PieceBL", ""),
                        ("DO_Date", None), ("DL_DateBC", None), ("DL_DateBL", None),
                        ("DL_Ligne", None), ("DO_Ref", ""), ("AR_Ref", None), ("DL_Design", None),
                        ("DL_Qte", None), ("DL_QteBC", None), ("DL_QteBL", None),
                        ("DL_PoidsNet", None), ("DL_PoidsBrut", None),
                        ("DL_Remise01REM_Valeur", 0), ("DL_Remise01REM_Type", 0),
                        ("DL_PrixUnitaire", None), ("DL_Taxe1", None), ("DL_CodeTaxe1", None),
                        ("DL_PrixRU", None), ("DL_MvtStock", 0), ("EU_Enumere", None),
                        ("EU_Qte", None), ("DE_No", 1), ("DL_No", None), ("DL_PUTTC", None),
                        ("DO_DateLivr", None), ("DL_MontantHT", None), ("DL_MontantTTC", None),
                        ("cbMarq", None), ("cbCreateur", "COLS"), ("cbModification", None),
                        ("cbCreation", None)],
                       {"DL_TypeTaux1": 0, "DL_TypeTaxe1": 0, "DL_CMUP": 0, "DL_TTC": 0,
                        "DL_Valorise": 1, "cbProt": 0, "cbReplication": 0, "cbFlag": 0}),
}


def mk(table, **values):
    """A row of `table` as a tuple in its columns' order."""
    t = TABLES[table]
    unknown = values.keys() - t["defaults"].keys()
    if unknown:
        raise KeyError(f"{table} has no generated column {sorted(unknown)}")
    d = t["defaults"]
    return tuple(values[c] if c in values else d[c] for c in t["cols"])


# ---------------------------------------------------------------------------------------------
# Writers

def schema_statements(path):
    """The statements of an SQL file, split where sqlite3 sees a complete statement."""
    statements, current = [], ""
    with open(path, encoding="utf-8") as f:
        for line in f:
            current += line
            if sqlite3.complete_statement(current):
                statements.append(current.strip())
                current = ""
    if current.strip() and not all(l.strip().startswith("--") or not l.strip()
                                   for l in current.splitlines()):
        raise ValueError(f"{path}: an unfinished statement at the end")
    return statements


class SqliteSink:
    """Writes a new SQLite file: tables, rows in one transaction, then indexes and triggers.
    A thread runs the inserts while the rows are being made (sqlite3 lets go of the GIL)."""

    def __init__(self, path, page_size=4096):
        self.path = path
        self.tmp = path + ".tmp"
        if os.path.exists(self.tmp):
            os.remove(self.tmp)
        self.db = sqlite3.connect(self.tmp, isolation_level=None, check_same_thread=False)
        self.db.execute(f"PRAGMA page_size = {page_size}")
        self.db.execute("PRAGMA journal_mode = OFF")   # a new file: nothing to roll back to
        self.db.execute("PRAGMA synchronous = OFF")
        self.db.execute("PRAGMA cache_size = -65536")  # 64 MiB
        statements = schema_statements(os.path.join(HERE, "schema.sql"))
        self.later = [s for s in statements if "CREATE UNIQUE INDEX" in s or "CREATE INDEX" in s]
        for s in statements:
            if s not in self.later:
                self.db.execute(s)
        self.db.execute("BEGIN")
        self.pending = {t: [] for t in TABLES}
        self.sql = {}
        for name, t in TABLES.items():
            cols = t["cols"] + list(t["const"])
            values = ["?"] * len(t["cols"]) + [sql_literal(v, "sqlite")
                                               for v in t["const"].values()]
            self.sql[name] = f"INSERT INTO {name} ({', '.join(cols)}) VALUES ({', '.join(values)})"
        self.counts = {t: 0 for t in TABLES}
        self.batches = queue.Queue(maxsize=4)       # at most a few batches wait in memory
        self.failure = None
        self.writer = threading.Thread(target=self.write, daemon=True)
        self.writer.start()

    def write(self):
        while True:
            batch = self.batches.get()
            if batch is None:
                return
            if self.failure is None:
                try:
                    self.db.executemany(*batch)
                except Exception as e:              # reported by finish()
                    self.failure = e

    def add(self, table, row):
        rows = self.pending[table]
        rows.append(row)
        if len(rows) >= BATCH:
            self.flush(table)

    def flush(self, table):
        rows = self.pending[table]
        if rows:
            self.batches.put((self.sql[table], rows))
            self.counts[table] += len(rows)
            self.pending[table] = []

    def finish(self):
        for t in TABLES:
            self.flush(t)
        self.batches.put(None)
        self.writer.join()
        if self.failure is not None:
            raise self.failure
        started = time.monotonic()
        for s in self.later:
            self.db.execute(s)
        self.index_seconds = time.monotonic() - started
        for s in schema_statements(os.path.join(HERE, "triggers-sqlite.sql")):
            self.db.execute(s)
        self.db.execute("COMMIT")
        self.db.close()
        os.replace(self.tmp, self.path)

    def abort(self):
        self.batches.put(None)
        self.writer.join()
        self.db.close()
        os.remove(self.tmp)


def sql_literal(value, dialect):
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "1" if value else "0"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = f"{value:.6f}".rstrip("0").rstrip(".")
        return text if text not in ("", "-0") else "0"
    text = str(value)
    if dialect == "sqlserver" and is_timestamp(text):
        # ISO 8601 with a T: read the same whatever the login's language (DATEFORMAT); a
        # French login reads '2026-12-06 10:00:00' as the 12th of June.
        text = text[:10] + "T" + text[11:]
    if dialect == "mariadb":
        text = text.replace("\\", "\\\\")
    return "'" + text.replace("'", "''") + "'"


def is_timestamp(text):
    return (len(text) == 19 and text[4] == "-" and text[7] == "-" and text[10] == " "
            and text[13] == ":" and text[16] == ":" and text[:4].isdigit())


class SqlSink:
    """Prints INSERT statements, several rows each, for another database's own client."""

    BEGIN = {"generic": None, "sqlite": "BEGIN;", "postgres": "BEGIN;",
             "mariadb": "START TRANSACTION;",
             "sqlserver": "SET NOCOUNT ON;\nSET XACT_ABORT ON;\nBEGIN TRANSACTION;"}
    END = {"generic": None, "sqlite": "COMMIT;", "postgres": "COMMIT;", "mariadb": "COMMIT;",
           "sqlserver": "COMMIT;\nGO"}

    def __init__(self, out, dialect):
        self.out = out
        self.dialect = dialect
        self.pending = {t: [] for t in TABLES}
        self.counts = {t: 0 for t in TABLES}
        self.heads = {}
        self.consts = {}
        for name, t in TABLES.items():
            cols = t["cols"] + list(t["const"])
            self.heads[name] = f"INSERT INTO {name} ({', '.join(cols)}) VALUES\n"
            self.consts[name] = "".join(", " + sql_literal(v, dialect) for v in t["const"].values())
        out.write("-- Generated by examples/sage-erp/generate.py; load schema.sql first.\n")
        if self.BEGIN[dialect]:
            out.write(self.BEGIN[dialect] + "\n")

    def add(self, table, row):
        rows = self.pending[table]
        rows.append(row)
        if len(rows) >= SQL_ROWS:
            self.flush(table)

    def flush(self, table):
        rows = self.pending[table]
        if not rows:
            return
        d, const = self.dialect, self.consts[table]
        body = ",\n".join("(" + ", ".join(sql_literal(v, d) for v in row) + const + ")"
                          for row in rows)
        self.out.write(self.heads[table] + body + ";\n")
        if d == "sqlserver":
            self.out.write("GO\n")
        self.counts[table] += len(rows)
        rows.clear()

    def finish(self):
        for t in TABLES:
            self.flush(t)
        if self.END[self.dialect]:
            self.out.write(self.END[self.dialect] + "\n")
        self.out.flush()


# ---------------------------------------------------------------------------------------------
# The data

UNITS = [(1, "Pièce"), (2, "Kg"), (3, "Mètre"), (4, "Litre"), (5, "Heure"), (6, "Lot"),
         (7, "Boîte")]
UNIT_NAME = dict(UNITS)

TAXES = [  # TA_No, TA_Code, TA_Intitule, TA_Taux, TA_Sens, CG_Num
    (1, "C20", "TVA collectée 20 %", 20.0, 1, "445712"),
    (2, "C10", "TVA collectée 10 %", 10.0, 1, "445711"),
    (3, "C55", "TVA collectée 5,5 %", 5.5, 1, "445710"),
    (4, "C21", "TVA collectée 2,1 %", 2.1, 1, "445713"),
    (5, "C00", "Exonéré / export", 0.0, 1, "445700"),
    (6, "D20", "TVA déductible 20 %", 20.0, 0, "445662"),
]
TAX_RATE = {code: rate for _, code, _, rate, _, _ in TAXES}

# Centralising families, then detail families: (code, FA_Type, intitulé, FA_Central, unit,
# stock tracking, racine of references)
HAND_FAMILIES = [
    ("MOBILIER", 2, "Mobilier", "", 1, 2, ""),
    ("DECORATION", 2, "Décoration", "", 1, 2, ""),
    ("BRICOLAGE", 2, "Bricolage & quincaillerie", "", 1, 2, ""),
    ("CHAISES", 0, "Chaises & tabourets", "MOBILIER", 1, 2, "CHA"),
    ("TABLES", 0, "Tables", "MOBILIER", 1, 2, "TAB"),
    ("RANGEMENT", 0, "Rangements", "MOBILIER", 1, 2, "RAN"),
    ("LUMINAIRE", 0, "Luminaires  ", "DECORATION", 1, 2, "LUM"),   # trailing blanks, as typed
    ("TEXTILE", 0, "Linge de maison", "DECORATION", 1, 2, "LIN"),
    ("QUINCAILL", 0, "Quincaillerie", "BRICOLAGE", 7, 2, "QUI"),
    ("PEINTURE", 0, "Peintures & vernis", "BRICOLAGE", 1, 2, "PEI"),
    ("ENTRETIEN", 0, "Produits d'entretien", "", 1, 2, "ENT"),
    ("SERVICES", 0, "Prestations", "", 5, 0, "PREST"),
    ("ECHANT", 0, "Échantillons", "", 1, 2, "ECH"),
]

# The hand-written catalogue: every size starts with it. (ref, design, family, sale price,
# purchase price, unit, net weight (kg unless noted), barcode?, other columns; "ago": when it
# last changed, in seconds before now)
HAND_ARTICLES = [
    ("CHA-LXV-CH", 'Chaise "Louis XV" – chêne', "CHAISES", 189.0, 92.5, 1, 6.8, True, {}),
    ("CHA-BISTRO", "Chaise bistrot métal noir", "CHAISES", 59.9, 24.0, 1, 4.2, True, {}),
    ("CHA-PAILLE", "Chaise paillée (ancien modèle)", "CHAISES", 79.0, 35.0, 1, 4.9, True,
     {"AR_Sommeil": 1, "AR_Substitut": "CHA-BISTRO", "AR_Publie": 0,
      "ago": 412 * 86400 + 3 * 3600 + 1234}),                          # unchanged for a year
    ("TAB-APP-NOY", "Table d'appoint noyer", "TABLES", 149.0, 71.2, 1, 8.5, True, {}),
    ("TAB-REPAS-180", "Table de repas extensible 180/240 cm", "TABLES", 899.0, 410.0, 1, 48.0,
     True, {"AR_Delai": 21, "AR_Garantie": 24}),
    ("TAB-BASSE-VERRE", "Table basse verre trempé", "TABLES", 129.0, 60.0, 1, 14.0, False,
     {"AR_Sommeil": 1, "AR_CodeBarre": "", "AR_Publie": 0}),          # '' rather than NULL
    ("ARM-PENDERIE", "Armoire penderie 2 portes coulissantes avec miroir, chêne massif L200",
     "RANGEMENT", 1249.0, 590.0, 1, 96.0, True, {"AR_Delai": 30}),    # 69 characters, Sage's most
    ("ETAG-MURALE", "Étagère murale 80 cm", "RANGEMENT", 39.9, 15.0, 1, 2.1, True,
     {"AR_Langue1": "Wall shelf 80 cm"}),
    ("LAMP-BUR", "Lampe de bureau ", "LUMINAIRE", 45.0, 19.9, 1, 1.3, True, {}),  # trailing blank
    ("LAMP-HALO", "Lampadaire halogène 300 W", "LUMINAIRE", 69.0, 30.0, 1, 5.5, True,
     {"AR_Sommeil": 1, "AR_Publie": 0, "ago": 250 * 86400 + 7 * 3600 + 321}),
    ("LIN-NAPPE", "Nappe en lin lavé 160×250", "TEXTILE", 79.0, 31.0, 1, 0.9, True, {}),
    ("LIN-COUSSIN", "Housse de coussin 45×45 – terracotta", "TEXTILE", 24.9, 8.3, 1, 0.2, True,
     {}),
    ("VIS-4X40/100", "Vis bois tête fraisée 4x40 (boîte de 100)", "QUINCAILL", 6.5, 2.1, 7,
     350.0, True, {"AR_UnitePoids": 3}),                               # the weight in grams
    ("CORDE-JUTE", "Corde jute Ø 12 mm", "QUINCAILL", 2.9, 0.95, 3, 0.11, True,
     {}),                                                              # sold by the metre
    ("CLOU-VRAC", "Clous tête plate 2,5 mm (vrac)", "QUINCAILL", 8.4, 3.1, 2, 1.0, False,
     {}),                                                              # sold by the kilogram
    ("VERNIS-MAT", "Vernis mat incolore 2,5 L", "PEINTURE", 35.9, 13.5, 1, 2.8, True,
     {"AR_PrixTTC": 1}),                                               # price entered TTC
    ("PEINT-BLANC", "Peinture acrylique blanc satiné 10 L", "PEINTURE", 89.0, 38.0, 1, 13.2,
     True, {}),
    ("CIRE-ABEILLE", "Cire d'abeille naturelle 500 ml", "ENTRETIEN", 14.5, 5.2, 1, 0.55, True,
     {}),
    ("SAVON-NOIR", "Savon noir – 1 L", "ENTRETIEN", 7.9, 2.6, 1, 1.05, True, {}),
    ("PREST-MONTAGE", "Montage et installation à domicile", "SERVICES", 45.0, 0.0, 5, None,
     False, {}),                                                       # a service: no weight
    ("PREST-LIVR", "Livraison en étage", "SERVICES", 30.0, 0.0, 1, None, False, {}),
    ("ECH-TISSU-LIN", "Échantillon tissu lin", "ECHANT", 0.0, 0.4, 1, 0.02, False, {}),
    ("ECH-BOIS-CHENE", "Échantillon bois chêne", "ECHANT", 0.0, 0.8, 1, 0.05, False, {}),
]

# Hand-written articles whose prices were updated together, at the same second (a tie that
# mixes families and the order of AR_Ref, and takes a dormant article along).
PRICE_UPDATE = {"CHA-BISTRO", "TAB-APP-NOY", "TAB-BASSE-VERRE", "LIN-NAPPE", "VIS-4X40/100",
                "SAVON-NOIR"}

# VAT: 20 % but for work done in a home (10 %).
TAX_BY_FAMILY = {"SERVICES": "C10"}

DEPOTS = [
    (1, "Dépôt principal", "ZI des Ayettes, 12 rue Ampère", "69800", "Saint-Priest", 1, "DEP1",
     "04 72 00 11 22"),
    (2, "Magasin Lyon Part-Dieu", "45 rue de la Villette", "69003", "Lyon", 0, "MAG1",
     "04 78 00 33 44"),
]

# (CT_Num, intitulé, type, contact, address, postcode, city, country, phone, email, dormant,
#  SIRET, VAT number)
HAND_TIERS = [
    ("C0001", "Mme Claire Dubois", 0, "", "14 rue Paul Bert", "69003", "Lyon", "France",
     "06 12 34 56 78", "claire.dubois@example.fr", 0, "", ""),
    ("C0002", "M. Jean-Pierre Lefèvre", 0, "", "3 allée des Tilleuls", "69100", "Villeurbanne",
     "France", "06 23 45 67 89", "jp.lefevre@example.fr", 0, "", ""),
    ("C0003", "L'Atelier du Bois SARL", 0, "Marc Perrin", "ZA du Pré Paillard", "74940",
     "Annecy", "France", "04 50 12 34 56", "contact@atelier-bois.example.com", 0,
     "81234567800019", "FR45812345678"),
    ("C0004", "Menuiserie Girard & Fils", 0, "Paul Girard", "27 avenue Jean Perrot", "38100",
     "Grenoble", "France", "04 76 23 45 67", "compta@girard-fils.example.com", 0,
     "42345678900027", "FR12423456789"),
    ("C0005", "Hôtel Le Belvédère", 0, "Service achats", "112 route des Praz", "74400",
     "Chamonix-Mont-Blanc", "France", "04 50 53 00 00", "achats@belvedere.example.com", 0,
     "53456789000035", "FR77534567890"),
    ("C0006", "Mme Élodie Moreau", 0, "", "8 rue Oberkampf", "75011", "Paris", "France",
     "06 34 56 78 90", "elodie.moreau@example.fr", 0, "", ""),
    ("C0007", "M. Karim Benali", 0, "", "52 boulevard Baille", "13006", "Marseille", "France",
     "06 45 67 89 01", "k.benali@example.fr", 0, "", ""),
    ("C0008", "Boutique Côté Maison", 0, "Sarah Janssens", "Rue Haute 120", "1000",
     "Bruxelles", "Belgique", "+32 2 512 00 00", "info@cotemaison.example.be", 0, "",
     "BE0123456789"),
    ("C0009", "Mme Sophie Martin", 0, "", "5 place Bellecour", "69002", "Lyon", "France",
     "06 56 78 90 12", "sophie.martin@example.fr", 1, "", ""),
    ("C0010", "Restaurant Chez Léon", 0, "Léon Marchand", "18 quai Saint-Antoine", "69002",
     "Lyon", "France", "04 78 37 00 00", "chezleon@example.fr", 0, "61234567800013",
     "FR33612345678"),
    ("C0011", "M. Thomas Petit", 0, "", "9 cours de l'Intendance", "33000", "Bordeaux",
     "France", "06 67 89 01 23", "thomas.petit@example.fr", 0, "", ""),
    ("C0012", "Mairie de Saint-Étienne", 0, "Services techniques", "Place de l'Hôtel de Ville",
     "42000", "Saint-Étienne", "France", "04 77 48 77 48", "achats@mairie.example.fr", 0,
     "21420218600019", ""),
    ("C0013", "Mme Anne-Sophie Roux", 0, "", "21 rue des Carmes", "31000", "Toulouse", "France",
     "06 78 90 12 34", "as.roux@example.fr", 1, "", ""),
    ("C0014", "Camping Les Pins", 0, "Direction", "Allée des Pins", "33120", "Arcachon",
     "France", "05 56 83 00 00", "camping.lespins@example.fr", 0, "73456789000042",
     "FR21734567890"),
    ("C0015", "M. Lucas Fontaine", 0, "", "4 rue Crébillon", "44000", "Nantes", "France",
     "06 89 01 23 45", "lucas.fontaine@example.fr", 0, "", ""),
    ("C0016", "Gîtes du Vercors", 0, "Martine Blanc", "Le Bourg", "38250",
     "Villard-de-Lans", "France", "04 76 95 00 00", "gites.vercors@example.fr", 0,
     "84567890100051", "FR65845678901"),
    ("C0017", "Mme Nathalie Garnier", 0, "", "30 rue Faidherbe", "59000", "Lille", "France",
     "06 90 12 34 56", "n.garnier@example.fr", 0, "", ""),
    ("C0018", "Ébénisterie Rousseau", 0, "Jacques Rousseau", "2 rue de la Liberté", "21000",
     "Dijon", "France", "03 80 30 00 00", "", 1, "39876543200016", "FR08398765432"),
    ("C0019", "M. Hugo Lambert", 0, "", "Rue du Rhône 40", "1204", "Genève", "Suisse",
     "+41 22 310 00 00", "hugo.lambert@example.ch", 0, "", ""),
    ("C0020", "Mme Inès Chevalier", 0, "", "11 rue Alsace-Lorraine", "31000", "Toulouse",
     "France", "07 12 34 56 78", None, 0, "", ""),                    # no e-mail at all
    ("F0001", "Scierie des Vosges", 1, "Bernard Thomas", "Route de Gérardmer", "88400",
     "Gérardmer", "France", "03 29 60 00 00", "commandes@scierie-vosges.example.fr", 0,
     "31234567800024", "FR90312345678"),
    ("F0002", "Quincaillerie Pro Distribution", 1, "Service clients", "15 rue de l'Industrie",
     "67200", "Strasbourg", "France", "03 88 10 00 00", "pro@quincaillerie.example.com", 0,
     "44556677800011", "FR56445566778"),
    ("F0003", "Textiles du Nord", 1, "", "7 rue du Tissage", "59100", "Roubaix", "France",
     "03 20 70 00 00", "ventes@textiles-nord.example.fr", 0, "55667788900012",
     "FR23556677889"),
]

# Generated articles: a category gives the qualifiers and sizes of their names, and the range
# of their prices (HT) and weights (kg).
CATEGORIES = {
    "meuble": (["chêne massif", "chêne clair", "noyer", "hêtre", "pin brut", "métal noir",
                "blanc laqué", "rotin", "teck", "acacia"],
               ["", "", "80 cm", "120 cm", "160 cm", "120×60 cm", "lot de 2", "lot de 4"],
               (39.0, 1200.0), (2.0, 60.0)),
    "luminaire": (["laiton", "verre soufflé", "rotin", "noir mat", "céramique", "lin", "bambou"],
                  ["Ø 20 cm", "Ø 35 cm", "Ø 50 cm", "E27", "LED 9 W", ""],
                  (12.0, 350.0), (0.2, 8.0)),
    "textile": (["lin lavé", "coton bio", "velours", "gaze de coton", "terracotta",
                 "vert sauge", "bleu nuit", "écru"],
                ["45×45", "50×70", "140×200", "240×260", "160×250", "Ø 180", "lot de 2"],
                (9.0, 180.0), (0.1, 3.0)),
    "quincaillerie": (["inox", "acier zingué", "laiton", "acier noir", "nylon"],
                      ["4x30 (boîte de 200)", "5x50 (boîte de 100)", "6 mm (sachet de 50)",
                       "35 mm", "50 mm", "lot de 10"],
                      (1.5, 40.0), (0.05, 2.0)),
    "peinture": (["blanc mat", "blanc satiné", "gris perle", "incolore", "chêne moyen",
                  "bleu canard", "vert olive"],
                 ["0,5 L", "2,5 L", "5 L", "10 L"], (9.0, 120.0), (0.6, 14.0)),
    "entretien": (["citron", "lavande", "sans parfum", "au savon noir", "écologique"],
                  ["500 ml", "750 ml", "1 L", "5 L"], (2.5, 30.0), (0.3, 5.2)),
    "cuisine": (["inox", "fonte émaillée", "céramique", "bois d'olivier", "cuivre",
                 "acier carbone"],
                ["Ø 20 cm", "Ø 24 cm", "Ø 28 cm", "lot de 3", "", "28×20 cm"],
                (6.0, 180.0), (0.2, 6.0)),
    "outillage": (["18 V", "sans fil", "pro", "compact", "bi-matière", "acier forgé"],
                  ["", "250 mm", "500 g", "coffret", "lot de 6"], (5.0, 320.0), (0.1, 4.5)),
    "jardin": (["résine", "acier galvanisé", "teck", "terre cuite", "zinc", "osier"],
               ["", "10 L", "Ø 40 cm", "15 m", "60 cm", "lot de 3"], (4.0, 650.0), (0.2, 30.0)),
}

# The hand-written detail families: their category and the nouns of their generated articles.
HAND_KINDS = {
    "CHAISES": ("meuble", ["Chaise", "Tabouret de bar", "Fauteuil", "Banc"]),
    "TABLES": ("meuble", ["Table", "Console", "Guéridon", "Bureau"]),
    "RANGEMENT": ("meuble", ["Commode", "Buffet", "Étagère", "Bibliothèque"]),
    "LUMINAIRE": ("luminaire", ["Suspension", "Applique", "Lampe à poser", "Lampadaire"]),
    "TEXTILE": ("textile", ["Plaid", "Nappe", "Rideau", "Housse de coussin"]),
    "QUINCAILL": ("quincaillerie", ["Vis", "Cheville", "Charnière", "Poignée", "Équerre"]),
    "PEINTURE": ("peinture", ["Peinture", "Lasure", "Vernis", "Sous-couche"]),
    "ENTRETIEN": ("entretien", ["Nettoyant multi-surfaces", "Savon", "Huile", "Décapant"]),
}

# Families generated for medium and large: a centralising family per theme, detail families
# under it. (intitulé, racine of the references, category, nouns)
THEMES = [
    ("Mobilier de jardin", "JAR", "jardin", ["Salon de jardin", "Fauteuil", "Chaise longue",
                                             "Parasol", "Banc", "Table de jardin"]),
    ("Cuisine", "CUI", "cuisine", ["Casserole", "Poêle", "Faitout", "Couteau",
                                   "Planche à découper", "Saladier", "Cocotte"]),
    ("Salle de bain", "SDB", "meuble", ["Miroir", "Meuble vasque", "Porte-serviettes",
                                        "Colonne", "Tabouret"]),
    ("Outillage", "OUT", "outillage", ["Perceuse", "Tournevis", "Marteau", "Scie égoïne",
                                       "Niveau", "Pince", "Clé plate"]),
    ("Jardinage", "JDN", "jardin", ["Sécateur", "Arrosoir", "Râteau", "Bêche",
                                    "Tuyau d'arrosage", "Jardinière"]),
    ("Literie", "LIT", "textile", ["Couette", "Oreiller", "Drap housse", "Taie d'oreiller",
                                   "Plaid"]),
    ("Éclairage", "ECL", "luminaire", ["Suspension", "Applique murale", "Lampe à poser",
                                       "Guirlande", "Spot"]),
    ("Rangement", "RGT", "meuble", ["Boîte", "Panier", "Caisse", "Étagère", "Commode"]),
]
USERS = ["COLS", "JMAR", "SBER", "ADMI"]

FIRST = ["Claire", "Julien", "Camille", "Nicolas", "Léa", "Thomas", "Chloé", "Antoine", "Manon",
         "Hugo", "Inès", "Louis", "Sarah", "Gabriel", "Zoé", "Raphaël", "Émilie", "Noé", "Anaïs",
         "Maël"]
LAST = ["Martin", "Bernard", "Dubois", "Durand", "Lefèvre", "Moreau", "Laurent", "Simon",
        "Michel", "Garcia", "Roux", "Fournier", "Girard", "Bonnet", "Dupont", "Lambert",
        "Fontaine", "Rousseau", "Vincent", "Muller", "Lefebvre", "Faure", "André", "Mercier"]
CITIES = [("69003", "Lyon"), ("75011", "Paris"), ("13006", "Marseille"), ("31000", "Toulouse"),
          ("33000", "Bordeaux"), ("59000", "Lille"), ("44000", "Nantes"), ("67000", "Strasbourg"),
          ("38000", "Grenoble"), ("21000", "Dijon"), ("42000", "Saint-Étienne"),
          ("74000", "Annecy"), ("34000", "Montpellier"), ("35000", "Rennes"), ("06000", "Nice")]
STREETS = ["rue de la République", "avenue Jean Jaurès", "rue Victor Hugo", "boulevard Gambetta",
           "place de la Mairie", "rue des Écoles", "chemin des Vignes", "allée des Tilleuls",
           "rue Pasteur", "quai de Saône"]

DOC_PREFIX = {(0, 0): "DE", (0, 1): "BC", (0, 3): "BL", (0, 6): "FA", (1, 12): "CF"}


# 'HH:MM:SS' of every second of a day.
TIMES_OF_DAY = [f"{s // 3600:02d}:{s // 60 % 60:02d}:{s % 60:02d}" for s in range(86400)]

# EAN-13 check digits: what two digits at an even and the next odd position add.
PAIR_WEIGHT = [p // 10 + 3 * (p % 10) for p in range(100)]


def ean13_3760(n):
    """The EAN-13 with the French prefix 3760 and n (8 digits) in its body."""
    total = 30 + (PAIR_WEIGHT[n // 1000000 % 100] + PAIR_WEIGHT[n // 10000 % 100]
                  + PAIR_WEIGHT[n // 100 % 100] + PAIR_WEIGHT[n % 100])
    return f"3760{n:08d}{(10 - total % 10) % 10}"


def ascii_fold(text):
    """'Léa' -> 'Lea'."""
    return unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()


def ean13(body12):
    digits = [int(c) for c in body12]
    check = (10 - (sum(digits[0::2]) + 3 * sum(digits[1::2])) % 10) % 10
    return body12 + str(check)


class Generator:
    def __init__(self, size, seed, now_epoch, sink):
        self.size = SIZES[size]
        self.rng = random.Random(seed)
        self.now = now_epoch
        self.sink = sink
        self.random = self.rng.random
        self.marq = {t: 0 for t in TABLES}
        self.days = {}
        days = self.size["recent_days"]
        # Instants shared by many rows, as a bulk change in Sage makes them: a price update,
        # an inventory, a nightly import (ties on purpose).
        self.recent = days * 86400
        self.bulk = sorted(self.rng.randrange(3600, self.recent) for _ in range(6))
        self.hand = {}        # the hand-written articles: ref -> what a document line needs
        self.catalogue = []   # a sample of the active articles, for generated documents
        self.tiers = []       # customers: (CT_Num, LI_No of its main address, dormant)
        self.main_li = {}     # CT_Num -> LI_No of its main delivery address
        self.doc_line_no = 0

    # -- helpers
    def ts(self, seconds_ago):
        """'YYYY-MM-DD HH:MM:SS' that many seconds before now (cached by day: it is called
        millions of times for the large size)."""
        t = self.now - seconds_ago
        d = t // 86400
        day = self.days.get(d)
        if day is None:
            day = self.days[d] = time.strftime("%Y-%m-%d ", time.gmtime(d * 86400))
        return day + TIMES_OF_DAY[t - d * 86400]

    def day(self, seconds_ago):
        return self.ts(seconds_ago)[:11] + "00:00:00"

    def below(self, n):
        """A random integer in [0, n) (random.randrange is several times slower; the hot
        loops below write it out)."""
        return int(self.random() * n)

    def changed(self, old=0.1, bulk=0.15):
        """How long ago a row last changed: mostly within the recent days, some of them at a
        shared bulk instant, some long ago (unchanged since)."""
        r = self.random()
        if r < old:
            return self.recent + self.below(700 * 86400 - self.recent)
        if r < old + bulk:
            return self.bulk[self.below(len(self.bulk))]
        return 60 + self.below(self.recent - 60)

    def created(self, changed_ago):
        return changed_ago + self.below(900 * 86400)

    def add(self, table, **values):
        self.marq[table] += 1
        values.setdefault("cbMarq", self.marq[table])
        self.sink.add(table, mk(table, **values))

    # -- tables
    def run(self):
        self.parameters()
        self.families()
        self.depots()
        self.articles()
        self.tiers_and_addresses()
        self.documents()

    def parameters(self):
        old = self.ts(800 * 86400)
        for i, name in UNITS:
            self.add("P_UNITE", cbIndice=i, U_Intitule=name, cbModification=old)
        for no, code, name, rate, sens, account in TAXES:
            self.add("F_TAXE", TA_No=no, TA_Code=code, TA_Intitule=name, TA_Taux=rate,
                     TA_Sens=sens, CG_Num=account, cbModification=old, cbCreation=old)

    def families(self):
        self.family_list = []
        # The hand-written ones: three of them changed at the same instant (a tie).
        tie = self.bulk[0]
        for i, (code, kind, name, central, unit, suivi, racine) in enumerate(HAND_FAMILIES):
            if code in ("CHAISES", "TABLES", "LUMINAIRE"):
                ago = tie
            elif kind == 2:                             # unchanged since last year
                ago = 420 * 86400 + 1000 * i + 7
            else:
                ago = self.changed(old=0.2, bulk=0)
            self.add("F_FAMILLE", FA_CodeFamille=code, FA_Type=kind, FA_Intitule=name,
                     FA_UniteVen=unit, FA_SuiviStock=suivi, FA_Central=central,
                     FA_RacineRef=racine, FA_Publie=0 if code == "ECHANT" else 1,
                     cbModification=self.ts(ago), cbCreation=self.ts(self.created(ago)))
            if kind == 0 and code not in ("SERVICES", "ECHANT"):
                category, nouns = HAND_KINDS[code]
                self.family_list.append((code, racine, unit, suivi, nouns, category))
        # Generated ones: a centralising family per theme, detail families under it.
        n = self.size["families"]
        if not n:
            return
        per_theme = max(1, n // len(THEMES))
        for theme, racine, category, nouns in THEMES:
            central = f"G{racine}"
            ago = self.changed(old=0.5)
            self.add("F_FAMILLE", FA_CodeFamille=central, FA_Type=2, FA_Intitule=theme,
                     cbModification=self.ts(ago), cbCreation=self.ts(self.created(ago)))
            for k in range(1, per_theme):
                code = f"{racine}{k:03d}"
                noun = nouns[k % len(nouns)]
                ago = self.changed(old=0.5)
                self.add("F_FAMILLE", FA_CodeFamille=code, FA_Type=0,
                         FA_Intitule=f"{theme} – {noun} {k}", FA_Central=central,
                         FA_RacineRef=racine, cbModification=self.ts(ago),
                         cbCreation=self.ts(self.created(ago)))
                self.family_list.append((code, racine, 1, 2, nouns, category))

    def depots(self):
        for no, name, address, cp, city, main, code, phone in DEPOTS:
            ago = 400 * 86400 + no * 3600
            self.add("F_DEPOT", DE_No=no, DE_Intitule=name, DE_Adresse=address,
                     DE_CodePostal=cp, DE_Ville=city, DE_Principal=main, DE_Code=code,
                     DE_Telephone=phone, DE_EMail=f"{code.lower()}@example.fr",
                     cbModification=self.ts(ago), cbCreation=self.ts(ago + 86400))

    def article(self, ref, design, family, price, cost, unit, weight, barcode, suivi,
                sommeil=0, publie=1, stat="", extra=None, ago=None):
        """An article, its accounting row and its stock rows. The row is built in the order of
        TABLES["F_ARTICLE"]["cols"]; `extra` names other columns (hand-written articles)."""
        random, ts = self.random, self.ts
        if ago is None:
            ago = self.changed()
        created = self.created(ago)
        stamp, born = ts(ago), ts(created)
        self.marq["F_ARTICLE"] += 1
        row = (ref, design, family, "", 2, weight,
               None if weight is None else round(weight * 1.1, 3), unit, cost,
               round(price / cost, 6) if cost else 0.0, price, 0, suivi, stat, 0, sommeil, "",
               barcode, "France" if random() < 0.6 else "", born[:11] + "00:00:00", publie,
               stamp[:11] + "00:00:00", 0, self.marq["F_ARTICLE"], USERS[int(random() * 4)],
               stamp, born)
        if extra:
            values = dict(zip(TABLES["F_ARTICLE"]["cols"], row))
            values.update(extra)
            sommeil = values["AR_Sommeil"]
            row = mk("F_ARTICLE", **values)
        self.sink.add("F_ARTICLE", row)
        tax = TAX_BY_FAMILY.get(family, "C20")
        self.marq["F_ARTCOMPTA"] += 1
        self.sink.add("F_ARTCOMPTA", (ref, "706000" if suivi == 0 else "707000", tax,
                                      self.marq["F_ARTCOMPTA"], stamp, born))
        if suivi:
            self.stock(ref, unit, cost, created, born)
        if extra and extra.get("AR_PrixTTC"):       # documents price their lines HT
            price = round(price / (1 + TAX_RATE[tax] / 100), 2)
        info = (ref, design, price, unit, weight, tax, suivi)
        if sommeil == 0:
            if len(self.catalogue) < 2000:
                self.catalogue.append(info)
            elif random() < 0.002:
                self.catalogue[int(random() * 2000)] = info
        return info

    def stock(self, ref, unit, cost, created, born):
        """The article's stock rows, built in the order of TABLES["F_ARTSTOCK"]["cols"]."""
        random = self.random
        for depot in (1, 2):
            if depot == 2 and random() < 0.5:
                continue
            r = random()
            if unit in (2, 3, 4):            # sold by weight, length or volume
                qty = round(random() * 400, 2)
            elif r < 0.12:
                qty = 0.0
            elif r < 0.15:
                qty = float(-1 - int(random() * 4))   # sold before it was received
            else:
                qty = float(1 + int(random() * 249))
            # An inventory counts every row of a depot at the same instant (a tie).
            ago = self.bulk[1] if random() < 0.2 else self.changed(old=0.15, bulk=0.05)
            ago = min(ago, created)
            self.marq["F_ARTSTOCK"] += 1
            self.sink.add("F_ARTSTOCK", (
                ref, depot, 5.0, 200.0, round(max(qty, 0) * cost, 2), qty,
                float(int(random() * 4)) if random() < 0.2 else 0.0,
                float(10 + int(random() * 40)) if random() < 0.1 else 0.0,
                1 if depot == 1 else 0, 0.0, 1, self.marq["F_ARTSTOCK"],
                USERS[int(random() * 4)], self.ts(ago), born))

    def articles(self):
        random = self.random
        for i, (ref, design, family, price, cost, unit, weight, barcode, extra) in \
                enumerate(HAND_ARTICLES):
            suivi = 0 if family == "SERVICES" else 2
            extra = dict(extra)
            ago = extra.pop("ago", self.bulk[3] if ref in PRICE_UPDATE else None)
            extra.setdefault("AR_CodeBarre", ean13(f"376012345{i:03d}") if barcode else None)
            self.hand[ref] = self.article(ref, design, family, price, cost, unit, weight, None,
                                          suivi, extra=extra, ago=ago)
        families = self.family_list
        brands = ["Maison Lumière", "Atelier Nord", "Terre & Lin", "Fer Forgé Co"]
        for i in range(1, self.size["articles"] + 1):
            code, racine, unit, suivi, nouns, category = families[int(random() * len(families))]
            qualifiers, sizes, (low, high), (light, heavy) = CATEGORIES[category]
            noun = nouns[int(random() * len(nouns))]
            qualifier = qualifiers[int(random() * len(qualifiers))]
            design = f"{noun} {qualifier} {sizes[int(random() * len(sizes))]}".rstrip()
            price = round(low + (high - low) * random(), 2)
            cost = round(price / (1.4 + 1.2 * random()), 2)
            weight = round(light + (heavy - light) * random(), 3)
            self.article(f"{racine}{i:07d}", design, code, price, cost, unit, weight,
                         ean13_3760(i) if random() < 0.8 else None, suivi,
                         sommeil=1 if random() < 0.04 else 0,
                         publie=0 if random() < 0.05 else 1,
                         stat=brands[int(random() * 4)] if random() < 0.2 else "")

    def tiers_and_addresses(self):
        rng = self.rng
        li = 0
        for (num, name, kind, contact, address, cp, city, country, phone, email, dormant,
             siret, vat) in HAND_TIERS:
            ago = self.changed(old=0.3, bulk=0.1)
            created = self.created(ago)
            self.add("F_COMPTET", CT_Num=num, CT_Intitule=name, CT_Type=kind,
                     CG_NumPrinc="411000" if kind == 0 else "401000",
                     CT_Classement=name.upper()[:17], CT_Contact=contact, CT_Adresse=address,
                     CT_CodePostal=cp, CT_Ville=city, CT_Pays=country, CT_Siret=siret,
                     CT_Identifiant=vat, CT_Encours=5000.0 if siret else 0.0,
                     N_CatCompta=1 if country == "France" else 2, CT_DateCreate=self.day(created),
                     CT_Sommeil=dormant, CT_Telephone=phone, CT_EMail=email,
                     cbModification=self.ts(ago), cbCreation=self.ts(created))
            li += 1
            self.add("F_LIVRAISON", LI_No=li, CT_Num=num, LI_Intitule=name[:35],
                     LI_Adresse=address, LI_CodePostal=cp, LI_Ville=city, LI_Pays=country,
                     LI_Contact=contact, LI_Principal=1, LI_Telephone=phone,
                     LI_EMail=email or "", cbModification=self.ts(ago),
                     cbCreation=self.ts(created))
            self.main_li[num] = li
            if num in ("C0003", "C0005", "C0012"):   # a second site to deliver to
                li += 1
                self.add("F_LIVRAISON", LI_No=li, CT_Num=num, LI_Intitule="Chantier / annexe",
                         LI_Adresse="Lieu-dit Les Granges", LI_CodePostal=cp, LI_Ville=city,
                         LI_Pays=country, cbModification=self.ts(ago), cbCreation=self.ts(created))
            if kind == 0:
                self.tiers.append((num, self.main_li[num], dormant))
        for i in range(1, self.size["customers"] + 1):
            num = f"C{i + 1000:06d}"
            first, last = rng.choice(FIRST), rng.choice(LAST)
            cp, city = rng.choice(CITIES)
            address = f"{rng.randrange(1, 180)} {rng.choice(STREETS)}"
            dormant = 1 if rng.random() < 0.08 else 0
            ago = self.changed(old=0.4)
            created = self.created(ago)
            email = (ascii_fold(f"{first}.{last}{i}@example.fr").lower()
                     if rng.random() < 0.9 else None)
            phone = "0" + rng.choice("67") + "".join(f" {rng.randrange(10, 100)}" for _ in range(4))
            name = f"{rng.choice(['M.', 'Mme'])} {first} {last}"
            self.add("F_COMPTET", CT_Num=num, CT_Intitule=name, CT_Classement=last.upper(),
                     CT_Adresse=address, CT_CodePostal=cp, CT_Ville=city,
                     CT_DateCreate=self.day(created), CT_Sommeil=dormant, CT_Telephone=phone,
                     CT_EMail=email, cbModification=self.ts(ago), cbCreation=self.ts(created))
            li += 1
            self.add("F_LIVRAISON", LI_No=li, CT_Num=num, LI_Intitule=name[:35],
                     LI_Adresse=address, LI_CodePostal=cp, LI_Ville=city, LI_Principal=1,
                     LI_Telephone=phone, LI_EMail=email or "", cbModification=self.ts(ago),
                     cbCreation=self.ts(created))
            self.tiers.append((num, li, dormant))

    # -- documents
    def document(self, domaine, kind, piece, tiers, li_no, ago, lines, ref="", depot=1,
                 paid=False, origin=None, statut=2):
        """A header and its lines. `lines`: (article tuple, quantity, discount %)."""
        date_ago = ago + self.rng.randrange(0, 3 * 3600)
        date = self.day(date_ago)
        stamp = self.ts(ago)
        total_ht = total_ttc = 0.0
        for n, (art, qty, discount) in enumerate(lines, start=1):
            a_ref, design, price, unit, weight, tax, suivi = art
            rate = TAX_RATE[tax] if domaine == 0 else 20.0
            pu = price if domaine == 0 else round(price / 1.9, 2)
            ht = round(qty * pu * (1 - discount / 100), 2)
            ttc = round(ht * (1 + rate / 100), 2)
            total_ht += ht
            total_ttc += ttc
            self.doc_line_no += 1
            self.add("F_DOCLIGNE", DO_Domaine=domaine, DO_Type=kind, CT_Num=tiers,
                     DO_Piece=piece, DL_PieceBC=(origin or {}).get("bc", ""),
                     DL_PieceBL=(origin or {}).get("bl", ""), DO_Date=date,
                     DL_DateBC=date if kind in (1, 12) else (origin or {}).get("bc_date"),
                     DL_DateBL=date if kind == 3 else (origin or {}).get("bl_date"),
                     DL_Ligne=n * 1000, DO_Ref=ref, AR_Ref=a_ref, DL_Design=design, DL_Qte=qty,
                     DL_QteBC=qty, DL_QteBL=qty if kind in (3, 6) else 0.0,
                     DL_PoidsNet=None if weight is None else round(weight * qty, 3),
                     DL_PoidsBrut=None if weight is None else round(weight * qty * 1.1, 3),
                     DL_Remise01REM_Valeur=float(discount),
                     DL_Remise01REM_Type=1 if discount else 0, DL_PrixUnitaire=pu,
                     DL_Taxe1=rate, DL_CodeTaxe1=tax if domaine == 0 else "D20",
                     DL_PrixRU=round(pu / 1.9, 2), DL_MvtStock=1 if kind == 3 and suivi else 0,
                     EU_Enumere=UNIT_NAME[unit], EU_Qte=qty, DE_No=depot, DL_No=self.doc_line_no,
                     DL_PUTTC=round(pu * (1 + rate / 100), 2), DO_DateLivr=None,
                     DL_MontantHT=ht, DL_MontantTTC=ttc, cbModification=stamp,
                     cbCreation=self.ts(date_ago))
        hour = time.gmtime(self.now - date_ago)
        self.add("F_DOCENTETE", DO_Domaine=domaine, DO_Type=kind, DO_Piece=piece, DO_Date=date,
                 DO_Ref=ref, DO_Tiers=tiers, DE_No=depot, LI_No=li_no, CT_NumPayeur=tiers,
                 DO_Souche=0, DO_Statut=statut,
                 DO_Heure=f"000{hour.tm_hour:02d}{hour.tm_min:02d}{hour.tm_sec:02d}",
                 DO_Provenance=0, CG_Num="411000" if domaine == 0 else "401000",
                 DO_TotalHT=round(total_ht, 2), DO_TotalHTNet=round(total_ht, 2),
                 DO_TotalTTC=round(total_ttc, 2), DO_NetAPayer=round(total_ttc, 2),
                 DO_MontantRegle=round(total_ttc, 2) if paid else 0.0, cbModification=stamp,
                 cbCreation=self.ts(date_ago))

    def documents(self):
        art = self.hand.get
        li = self.main_li.get

        h = 3600
        d = 86400
        tie = self.bulk[2]
        # WEB123: a web order delivered in part. Turning part of it into a delivery note
        # rewrote the order (what is left) and created the note in the same second: a tie.
        self.document(0, 1, "BC00118", "C0001", li("C0001"), tie, [(art("CHA-LXV-CH"), 2.0, 0)],
                      ref="WEB123", paid=True)
        self.document(0, 3, "BL00086", "C0001", li("C0001"), tie,
                      [(art("CHA-LXV-CH"), 2.0, 0), (art("LIN-NAPPE"), 1.0, 0)], ref="WEB123",
                      paid=True, origin={"bc": "BC00118", "bc_date": self.day(tie + 2 * d)})
        self.document(0, 1, "BC00121", "C0006", li("C0006"), 5 * h + 17,
                      [(art("TAB-REPAS-180"), 1.0, 0), (art("CHA-BISTRO"), 6.0, 10),
                       (art("PREST-LIVR"), 1.0, 0)], ref="WEB124", paid=True)
        # WEB125: delivered in full, so the order is gone; the note names it.
        self.document(0, 3, "BL00087", "C0002", li("C0002"), 2 * d + 3 * h + 1418,
                      [(art("VIS-4X40/100"), 3.0, 0), (art("CORDE-JUTE"), 12.5, 0)],
                      ref="WEB125", paid=True,
                      origin={"bc": "BC00119", "bc_date": self.day(3 * d)})
        self.document(0, 6, "FA00045", "C0007", li("C0007"), 4 * d + 2 * h + 2741,
                      [(art("LAMP-BUR"), 1.0, 0), (art("CIRE-ABEILLE"), 2.0, 0)], ref="WEB126",
                      paid=True, origin={"bc": "BC00117", "bl": "BL00085",
                                         "bc_date": self.day(6 * d), "bl_date": self.day(5 * d)})
        self.document(0, 0, "DE00033", "C0011", li("C0011"), 1 * d + 7 * h + 605,
                      [(art("ARM-PENDERIE"), 1.0, 0), (art("PREST-MONTAGE"), 3.0, 0)],
                      ref="WEB127", statut=0)
        self.document(0, 1, "BC00124", "C0019", li("C0019"), 40 * 60 + 33,
                      [(art("LIN-COUSSIN"), 4.0, 0), (art("ECH-TISSU-LIN"), 1.0, 0)],
                      ref="WEB128", paid=True)
        # Orders that did not come from the shop.
        self.document(0, 1, "BC00122", "C0003", li("C0003"), 3 * d + 5 * h + 3102,
                      [(art("PEINT-BLANC"), 8.0, 5), (art("VERNIS-MAT"), 12.0, 5)],
                      ref="CDE-0042")
        self.document(0, 1, "BC00123", "C0010", li("C0010"), 2 * d + 9 * h + 884,
                      [(art("CHA-BISTRO"), 12.0, 8)])
        self.document(0, 3, "BL00088", "C0012", li("C0012"), 6 * d + h + 2230,
                      [(art("ETAG-MURALE"), 10.0, 0), (art("SAVON-NOIR"), 24.0, 0)],
                      ref="CMD MAIRIE", origin={"bc": "BC00116", "bc_date": self.day(8 * d)})
        # A purchase order (domain 1) whose reference starts with WEB too.
        self.document(1, 12, "CF00012", "F0002", li("F0002"), 1 * d + 2 * h + 1999,
                      [(art("VIS-4X40/100"), 50.0, 0)], ref="WEB-REASSORT", statut=1)

        # Generated documents (medium, large).
        rng = self.rng
        n = self.size["documents"]
        if not n:
            return
        active = [t for t in self.tiers if not t[2]]
        numbers = {(0, 0): 100, (0, 1): 1000, (0, 3): 1000, (0, 6): 1000}
        web = 1000
        for _ in range(n):
            kind = rng.choices([0, 1, 3, 6], weights=[10, 35, 30, 25])[0]
            numbers[(0, kind)] += 1
            piece = f"{DOC_PREFIX[(0, kind)]}{numbers[(0, kind)]:06d}"
            tiers, li_no, _ = rng.choice(active)
            is_web = rng.random() < 0.4
            if is_web:
                web += rng.randrange(1, 4)
            lines = [(rng.choice(self.catalogue), float(rng.randrange(1, 6)),
                      rng.choice([0, 0, 0, 5, 10])) for _ in range(rng.randrange(1, 7))]
            ago = self.changed(old=0.05, bulk=0.1)
            self.document(0, kind, piece, tiers, li_no, ago, lines,
                          ref=f"WEB{web}" if is_web else rng.choice(["", "", "TEL", "SALON"]),
                          depot=1 if rng.random() < 0.8 else 2, paid=is_web and kind != 0,
                          origin={"bc": f"BC{numbers[(0, 1)] - 1:06d}"} if kind in (3, 6) else None,
                          statut=0 if kind == 0 else 2)


def parse_now(text):
    if text is None:
        now = int(time.time())
        return now - now % 60
    return calendar.timegm(time.strptime(text, "%Y-%m-%d %H:%M:%S"))


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--size", choices=SIZES, default="small")
    out = p.add_mutually_exclusive_group(required=True)
    out.add_argument("--out", help="the SQLite file to create")
    out.add_argument("--sql", action="store_true", help="print INSERT statements instead")
    p.add_argument("--dialect", choices=list(SqlSink.BEGIN), default="generic",
                   help="with --sql: the transaction statements and timestamp literals of "
                        "that database (generic: plain INSERTs, no transaction)")
    p.add_argument("--seed", type=int, default=100)
    p.add_argument("--now", help="'YYYY-MM-DD HH:MM:SS' (UTC) the timestamps lie before; "
                                 "default: now, to the minute")
    p.add_argument("--force", action="store_true", help="replace --out if it exists")
    args = p.parse_args()

    if args.out and os.path.exists(args.out) and not args.force:
        p.error(f"{args.out} exists (--force replaces it)")
    now = parse_now(args.now)
    if now > time.time() + 60:
        print("warning: --now is in the future: a row changed from now on gets an older "
              "cbModification than the generated ones", file=sys.stderr)
    started = time.monotonic()
    if args.out:       # larger pages: a quarter less time for a million articles
        sink = SqliteSink(args.out, page_size=16384 if args.size == "large" else 4096)
    else:
        sink = SqlSink(sys.stdout, args.dialect)
    try:
        Generator(args.size, args.seed, now, sink).run()
        sink.finish()
    except BrokenPipeError:                     # --sql | head
        sys.stderr.close()
        return
    except BaseException:                       # no half-written file left behind
        if isinstance(sink, SqliteSink) and os.path.exists(sink.tmp):
            sink.abort()
        raise
    counts = ", ".join(f"{t} {n}" for t, n in sink.counts.items())
    where = args.out or "stdout"
    indexes = getattr(sink, "index_seconds", None)
    indexes = f" (indexes {indexes:.1f}s)" if indexes is not None else ""
    print(f"{args.size}: {counts} -> {where} in {time.monotonic() - started:.1f}s{indexes}",
          file=sys.stderr)


if __name__ == "__main__":
    main()
