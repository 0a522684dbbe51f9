-- A fake Sage 100 ("Sage 100c Gestion commerciale") database: the tables an integration reads
-- and writes, shaped like Sage's own (same table and column names, same types and meanings),
-- with a subset of their columns. Not a copy of Sage's schema: see README.md.
--
-- Written to run unchanged on SQLite, SQL Server and MariaDB. PostgreSQL has no DATETIME:
-- replace it with TIMESTAMP (see README.md).
--
-- Every table ends with Sage's technical columns:
--   cbMarq          Sage's row id. In Sage: int IDENTITY(1,1), the clustered primary key
--                   PK_CBMARQ_<table>. Here a plain INTEGER primary key (SQLite numbers it
--                   when left out; elsewhere the data gives it), so that the same INSERTs load
--                   everywhere without SET IDENTITY_INSERT.
--   cbModification  When the row last changed. In Sage a SQL Server datetime that Sage's
--                   triggers (TG_CBUPD_<table>) set to GETDATE(), the server's local time.
--                   Here DEFAULT CURRENT_TIMESTAMP, and on SQLite triggers-sqlite.sql sets it
--                   on UPDATE (in UTC, SQLite's CURRENT_TIMESTAMP). Stored as
--                   'YYYY-MM-DD HH:MM:SS', which compares correctly as text in SQLite.
--   cbCreation      When the row was created (Sage 100c).
--   cbCreateur      The 4-character code of the Sage user who last wrote the row.
--   cbProt, cbReplication, cbFlag  Sage's protection, replication and flag fields (0 here).
--
-- Sage also keeps, for most text keys, a binary shadow column (cbAR_Ref, cbFA_CodeFamille...)
-- that its own indexes use. They are left out: the indexes here are on the columns themselves.
-- Unique indexes are named after Sage's UKA_<table>_<column> constraints, the others in Sage's
-- I<prefix>_<NAME> style; IX_<table>_cbModification are additions for incremental reads (a
-- real Sage database has none; an integrator adds them).
--
-- Codes used below, as in Sage:
--   F_FAMILLE.FA_Type        0 detail, 1 total, 2 centralising (centralisatrice)
--   F_COMPTET.CT_Type        0 customer, 1 supplier, 2 employee (salarié), 3 other
--   *_Sommeil                0 active, 1 dormant (en sommeil)
--   F_DOCENTETE.DO_Domaine   0 sales, 1 purchases, 2 stock, 3 receipts (tickets), 4 internal
--   F_DOCENTETE.DO_Type      sales: 0 quote (devis), 1 order (bon de commande), 2 delivery
--                            being prepared (préparation de livraison), 3 delivery note (bon
--                            de livraison), 4 return note, 5 credit note (bon d'avoir
--                            financier), 6 invoice (facture), 7 posted invoice (facture
--                            comptabilisée); purchases: the same plus 10 (12 purchase order,
--                            13 goods received...)


-- Units (P_UNITE, one of Sage's parameter tables: "Unités de vente"). An article's
-- AR_UniteVen is the cbIndice of its unit here, not the unit's name.
CREATE TABLE P_UNITE (
    cbIndice        SMALLINT NOT NULL,
    U_Intitule      VARCHAR(21),
    U_Correspondance SMALLINT,
    U_NbUnite       NUMERIC(24,6),
    cbMarq          INTEGER NOT NULL,
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_P_UNITE PRIMARY KEY (cbMarq)
);

-- VAT and other tax codes (F_TAXE: "Taux de taxes"). TA_Code is what articles and document
-- lines name; TA_Taux is the rate in percent when TA_TTaux = 0.
CREATE TABLE F_TAXE (
    TA_No           INTEGER NOT NULL,
    TA_Code         VARCHAR(5) NOT NULL,
    TA_Intitule     VARCHAR(35),
    TA_TTaux        SMALLINT,           -- 0 percent, 1 amount, 2 per unit
    TA_Taux         NUMERIC(24,6),
    TA_Type         SMALLINT,           -- 0 VAT on debits, 1 VAT on receipts, 2.. other taxes
    TA_Sens         SMALLINT,           -- 0 deductible (purchases), 1 collected (sales)
    CG_Num          VARCHAR(13),        -- the general ledger account (445710...)
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_TAXE PRIMARY KEY (cbMarq)
);

-- Article families (F_FAMILLE). Sage has no tree of families: a detail family (FA_Type 0) can
-- name a centralising family (FA_Type 2) in FA_Central, which groups it for statistics; total
-- families (FA_Type 1) only total ranges of families in listings. Articles belong to detail
-- families. (Sage's tree for articles is the catalogue, F_CATALOGUE, not shaped here.)
CREATE TABLE F_FAMILLE (
    FA_CodeFamille  VARCHAR(11) NOT NULL,
    FA_Type         SMALLINT,
    FA_Intitule     VARCHAR(69),
    FA_UniteVen     SMALLINT,           -- default sales unit (P_UNITE.cbIndice)
    FA_Coef         NUMERIC(24,6),      -- default coefficient sale price / purchase price
    FA_SuiviStock   SMALLINT,           -- default stock tracking (as AR_SuiviStock)
    FA_Central      VARCHAR(11),        -- the centralising family (FA_CodeFamille), or ''
    FA_UnitePoids   SMALLINT,           -- default weight unit (as AR_UnitePoids)
    FA_HorsStat     SMALLINT,
    FA_Publie       SMALLINT,           -- 1: published on the web shop
    FA_RacineRef    VARCHAR(19),        -- prefix of the references of new articles
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_FAMILLE PRIMARY KEY (cbMarq)
);

-- Articles (F_ARTICLE). Prices are HT unless AR_PrixTTC = 1. The weight is in two columns,
-- net and gross, in the unit AR_UnitePoids; Sage has no AR_Poids column. A service
-- (AR_SuiviStock 0) has no weight here (NULL). The VAT code is not in this table: see
-- F_ARTCOMPTA.
CREATE TABLE F_ARTICLE (
    AR_Ref          VARCHAR(19) NOT NULL,
    AR_Design       VARCHAR(69),
    FA_CodeFamille  VARCHAR(11) NOT NULL,
    AR_Substitut    VARCHAR(19),        -- the article that replaces this one
    AR_Raccourci    VARCHAR(7),
    AR_Garantie     SMALLINT,           -- months
    AR_UnitePoids   SMALLINT,           -- 0 tonne, 1 quintal, 2 kilogram, 3 gram, 4 milligram
    AR_PoidsNet     NUMERIC(24,6),
    AR_PoidsBrut    NUMERIC(24,6),
    AR_UniteVen     SMALLINT,           -- sales unit: P_UNITE.cbIndice
    AR_PrixAch      NUMERIC(24,6),      -- purchase price
    AR_Coef         NUMERIC(24,6),
    AR_PrixVen      NUMERIC(24,6),      -- sale price, HT (or TTC when AR_PrixTTC = 1)
    AR_PrixTTC      SMALLINT,           -- 0 AR_PrixVen is HT, 1 it includes the taxes
    AR_Gamme1       SMALLINT,           -- first variant axis (0 none)
    AR_Gamme2       SMALLINT,
    AR_SuiviStock   SMALLINT,           -- 0 none (services), 1 serial, 2 CMUP, 3 FIFO, 4 LIFO, 5 lot
    AR_Nomencl      SMALLINT,           -- 0 not a bill of materials
    AR_Stat01       VARCHAR(21),        -- free statistics fields (brand, collection...)
    AR_Escompte     SMALLINT,
    AR_Delai        SMALLINT,           -- supply lead time, days
    AR_HorsStat     SMALLINT,
    AR_VteDebit     SMALLINT,
    AR_NotImp       SMALLINT,
    AR_Sommeil      SMALLINT,           -- 0 active, 1 dormant (no longer sold)
    AR_Langue1      VARCHAR(69),        -- the name in the first foreign language
    AR_Langue2      VARCHAR(69),
    AR_CodeBarre    VARCHAR(19),        -- EAN, or NULL
    AR_CodeFiscal   VARCHAR(25),        -- customs code
    AR_Pays         VARCHAR(35),        -- country of origin
    AR_Contremarque SMALLINT,
    AR_FactPoids    SMALLINT,
    AR_FactForfait  SMALLINT,
    AR_DateCreation DATETIME,
    AR_Publie       SMALLINT,           -- 1: "publier sur le site marchand"
    AR_DateModif    DATETIME,
    AR_Photo        VARCHAR(259),
    AR_CoutStd      NUMERIC(24,6),
    CO_No           INTEGER,            -- the sales representative (F_COLLABORATEUR), 0 none
    AR_Type         SMALLINT,           -- 0 standard article (the only type generated here)
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_ARTICLE PRIMARY KEY (cbMarq)
);

-- An article's accounting settings (F_ARTCOMPTA: "Paramètres > Comptabilité" of the article),
-- one row per flow (ACP_Type) and accounting category (ACP_Champ): the general account and
-- the tax codes its lines get. Generated here: the sales row of category 1 (France).
CREATE TABLE F_ARTCOMPTA (
    AR_Ref                  VARCHAR(19) NOT NULL,
    ACP_Type                SMALLINT NOT NULL,  -- 0 sales, 1 purchases, 2 stock
    ACP_Champ               SMALLINT NOT NULL,  -- the accounting category (1 France...)
    ACP_ComptaCPT_CompteG   VARCHAR(13),        -- 707000...
    ACP_ComptaCPT_CompteA   VARCHAR(13),
    ACP_ComptaCPT_Taxe1     VARCHAR(5),         -- F_TAXE.TA_Code
    ACP_ComptaCPT_Taxe2     VARCHAR(5),
    ACP_ComptaCPT_Taxe3     VARCHAR(5),
    ACP_TypeFacture         SMALLINT,
    cbProt                  SMALLINT DEFAULT 0,
    cbMarq                  INTEGER NOT NULL,
    cbCreateur              CHAR(4),
    cbModification          DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication           INTEGER DEFAULT 0,
    cbFlag                  SMALLINT DEFAULT 0,
    cbCreation              DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_ARTCOMPTA PRIMARY KEY (cbMarq)
);

-- Depots / warehouses (F_DEPOT). DE_No is what stock rows and documents name.
CREATE TABLE F_DEPOT (
    DE_No           INTEGER NOT NULL,
    DE_Intitule     VARCHAR(35),
    DE_Adresse      VARCHAR(35),
    DE_Complement   VARCHAR(35),
    DE_CodePostal   VARCHAR(9),
    DE_Ville        VARCHAR(35),
    DE_Contact      VARCHAR(35),
    DE_Principal    SMALLINT,           -- 1: the company's main depot
    DE_CatCompta    SMALLINT,
    DE_Region       VARCHAR(25),
    DE_Pays         VARCHAR(35),
    DE_EMail        VARCHAR(69),
    DE_Code         VARCHAR(11),
    DE_Telephone    VARCHAR(21),
    DE_Telecopie    VARCHAR(21),
    DE_Exclure      SMALLINT,           -- 1: left out of stock availability
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_DEPOT PRIMARY KEY (cbMarq)
);

-- Stock of an article in a depot (F_ARTSTOCK), one row per (AR_Ref, DE_No). AS_QteSto is the
-- real stock (it can be negative, or fractional for articles sold by weight or length),
-- AS_QteRes what customer orders reserve, AS_QteCom what purchase orders will bring,
-- AS_QtePrepa what delivery preparations hold. AS_MontSto is the stock's value.
CREATE TABLE F_ARTSTOCK (
    AR_Ref          VARCHAR(19) NOT NULL,
    DE_No           INTEGER NOT NULL,
    AS_QteMini      NUMERIC(24,6),
    AS_QteMaxi      NUMERIC(24,6),
    AS_MontSto      NUMERIC(24,6),
    AS_QteSto       NUMERIC(24,6),
    AS_QteRes       NUMERIC(24,6),
    AS_QteCom       NUMERIC(24,6),
    AS_Principal    SMALLINT,           -- 1: the article's main depot
    AS_QteResCM     NUMERIC(24,6),
    AS_QteComCM     NUMERIC(24,6),
    AS_QtePrepa     NUMERIC(24,6),
    DP_NoPrincipal  INTEGER,            -- main location in the depot (F_DEPOTEMPL), 0 none
    DP_NoControle   INTEGER,
    AS_QteAControler NUMERIC(24,6),
    AS_Mouvemente   SMALLINT,           -- 1: the row has had stock movements
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_ARTSTOCK PRIMARY KEY (cbMarq)
);

-- Third parties (F_COMPTET: "comptes tiers"): customers (CT_Type 0), suppliers (1), and
-- others. CT_Num is the account code documents name in DO_Tiers. CT_Pays is the country's
-- name as typed, not an ISO code.
CREATE TABLE F_COMPTET (
    CT_Num          VARCHAR(17) NOT NULL,
    CT_Intitule     VARCHAR(69),
    CT_Type         SMALLINT,
    CG_NumPrinc     VARCHAR(13),        -- main general account (411000 customers, 401000 suppliers)
    CT_Qualite      VARCHAR(17),
    CT_Classement   VARCHAR(17),        -- sort key (usually the name in capitals)
    CT_Contact      VARCHAR(35),
    CT_Adresse      VARCHAR(35),
    CT_Complement   VARCHAR(35),
    CT_CodePostal   VARCHAR(9),
    CT_Ville        VARCHAR(35),
    CT_CodeRegion   VARCHAR(25),
    CT_Pays         VARCHAR(35),
    CT_Raccourci    VARCHAR(7),
    N_Devise        SMALLINT,           -- 0 the company's currency
    CT_Ape          VARCHAR(7),
    CT_Identifiant  VARCHAR(25),        -- intra-community VAT number
    CT_Siret        VARCHAR(15),
    CT_Commentaire  VARCHAR(35),
    CT_Encours      NUMERIC(24,6),      -- credit limit
    N_CatTarif      SMALLINT,           -- price category
    N_CatCompta     SMALLINT,           -- accounting category (1 France...)
    N_Expedition    SMALLINT,
    N_Condition     SMALLINT,
    CT_DateCreate   DATETIME,
    CT_Sommeil      SMALLINT,           -- 0 active, 1 dormant
    CT_Prospect     SMALLINT,
    CT_Telephone    VARCHAR(21),
    CT_Telecopie    VARCHAR(21),
    CT_EMail        VARCHAR(69),
    CT_Site         VARCHAR(69),
    CO_No           INTEGER,            -- sales representative, 0 none
    DE_No           INTEGER,            -- depot the customer is served from, 0 default
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_COMPTET PRIMARY KEY (cbMarq)
);

-- Delivery addresses of a third party (F_LIVRAISON). LI_No is the address's number,
-- documents name it in LI_No; LI_Principal = 1 is the default one.
CREATE TABLE F_LIVRAISON (
    LI_No           INTEGER NOT NULL,
    CT_Num          VARCHAR(17) NOT NULL,
    LI_Intitule     VARCHAR(35),
    LI_Adresse      VARCHAR(35),
    LI_Complement   VARCHAR(35),
    LI_CodePostal   VARCHAR(9),
    LI_Ville        VARCHAR(35),
    LI_CodeRegion   VARCHAR(25),
    LI_Pays         VARCHAR(35),
    LI_Contact      VARCHAR(35),
    N_Expedition    SMALLINT,           -- shipping method (P_EXPEDITION index)
    N_Condition     SMALLINT,           -- delivery terms (P_CONDLIVR index)
    LI_Principal    SMALLINT,
    LI_Telephone    VARCHAR(21),
    LI_Telecopie    VARCHAR(21),
    LI_EMail        VARCHAR(69),
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_LIVRAISON PRIMARY KEY (cbMarq)
);

-- Document headers (F_DOCENTETE): quotes, orders, delivery notes, invoices... of every domain,
-- identified by (DO_Domaine, DO_Type, DO_Piece). DO_Ref is the free reference (the customer's
-- or the web shop's order number); DO_Tiers the third party (F_COMPTET.CT_Num). When an order
-- is turned into a delivery note the new document gets a new DO_Piece and keeps DO_Ref; the
-- order stays only for what is left to deliver. DO_Date is a date (time 00:00:00), DO_Heure
-- the time as '000HHMMSS'.
CREATE TABLE F_DOCENTETE (
    DO_Domaine      SMALLINT NOT NULL,
    DO_Type         SMALLINT NOT NULL,
    DO_Piece        VARCHAR(13) NOT NULL,
    DO_Date         DATETIME,
    DO_Ref          VARCHAR(17),
    DO_Tiers        VARCHAR(17),
    CO_No           INTEGER,
    DO_Period       SMALLINT,
    DO_Devise       SMALLINT,
    DO_Cours        NUMERIC(24,6),
    DE_No           INTEGER,            -- the depot the document moves stock in
    LI_No           INTEGER,            -- the delivery address (F_LIVRAISON.LI_No)
    CT_NumPayeur    VARCHAR(17),
    DO_Expedit      SMALLINT,
    DO_NbFacture    SMALLINT,
    DO_BLFact       SMALLINT,
    DO_TxEscompte   NUMERIC(24,6),
    DO_Reliquat     SMALLINT,
    DO_Imprim       SMALLINT,
    DO_Souche       SMALLINT,           -- the numbering series
    DO_DateLivr     DATETIME,
    DO_Condition    SMALLINT,
    DO_Tarif        SMALLINT,
    DO_Langue       SMALLINT,
    N_CatCompta     SMALLINT,
    CG_Num          VARCHAR(13),
    DO_Statut       SMALLINT,           -- 0 entered (saisi), 1 confirmed, 2 accepted
    DO_Heure        VARCHAR(9),
    DO_Transfere    SMALLINT,
    DO_Cloture      SMALLINT,
    DO_Attente      SMALLINT,
    DO_Provenance   SMALLINT,
    DO_TotalHT      NUMERIC(24,6),
    DO_TotalHTNet   NUMERIC(24,6),
    DO_TotalTTC     NUMERIC(24,6),
    DO_NetAPayer    NUMERIC(24,6),
    DO_MontantRegle NUMERIC(24,6),
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_DOCENTETE PRIMARY KEY (cbMarq)
);

-- Document lines (F_DOCLIGNE), joined to their header on (DO_Domaine, DO_Type, DO_Piece).
-- DL_Ligne orders the lines (Sage numbers them 1000, 2000...), DL_No identifies a line
-- across documents. DL_PieceBC / DL_PieceBL name the order / delivery note a line came
-- through. DL_MontantHT = DL_Qte x DL_PrixUnitaire less the discount.
CREATE TABLE F_DOCLIGNE (
    DO_Domaine      SMALLINT NOT NULL,
    DO_Type         SMALLINT NOT NULL,
    CT_Num          VARCHAR(17),
    DO_Piece        VARCHAR(13) NOT NULL,
    DL_PieceBC      VARCHAR(13),
    DL_PieceBL      VARCHAR(13),
    DO_Date         DATETIME,
    DL_DateBC       DATETIME,
    DL_DateBL       DATETIME,
    DL_Ligne        INTEGER,
    DO_Ref          VARCHAR(17),
    AR_Ref          VARCHAR(19),
    DL_Design       VARCHAR(69),
    DL_Qte          NUMERIC(24,6),
    DL_QteBC        NUMERIC(24,6),
    DL_QteBL        NUMERIC(24,6),
    DL_PoidsNet     NUMERIC(24,6),
    DL_PoidsBrut    NUMERIC(24,6),
    DL_Remise01REM_Valeur NUMERIC(24,6),
    DL_Remise01REM_Type   SMALLINT,     -- 0 amount, 1 percent
    DL_PrixUnitaire NUMERIC(24,6),
    DL_Taxe1        NUMERIC(24,6),      -- the rate of DL_CodeTaxe1
    DL_TypeTaux1    SMALLINT,
    DL_TypeTaxe1    SMALLINT,
    DL_CodeTaxe1    VARCHAR(5),
    DL_PrixRU       NUMERIC(24,6),
    DL_CMUP         NUMERIC(24,6),
    DL_MvtStock     SMALLINT,
    EU_Enumere      VARCHAR(35),        -- the unit's name, as printed
    EU_Qte          NUMERIC(24,6),
    DL_TTC          SMALLINT,
    DE_No           INTEGER,
    DL_No           INTEGER NOT NULL,
    DL_PUTTC        NUMERIC(24,6),
    DO_DateLivr     DATETIME,
    DL_Valorise     SMALLINT,
    DL_MontantHT    NUMERIC(24,6),
    DL_MontantTTC   NUMERIC(24,6),
    cbProt          SMALLINT DEFAULT 0,
    cbMarq          INTEGER NOT NULL,
    cbCreateur      CHAR(4),
    cbModification  DATETIME DEFAULT CURRENT_TIMESTAMP,
    cbReplication   INTEGER DEFAULT 0,
    cbFlag          SMALLINT DEFAULT 0,
    cbCreation      DATETIME DEFAULT CURRENT_TIMESTAMP,
    CONSTRAINT PK_CBMARQ_F_DOCLIGNE PRIMARY KEY (cbMarq)
);


-- Indexes. generate.py creates them after loading the rows, which is faster.

CREATE UNIQUE INDEX UKA_P_UNITE_cbIndice ON P_UNITE (cbIndice);

CREATE UNIQUE INDEX UKA_F_TAXE_TA_Code ON F_TAXE (TA_Code);
CREATE UNIQUE INDEX UKA_F_TAXE_TA_No ON F_TAXE (TA_No);

CREATE UNIQUE INDEX UKA_F_FAMILLE_FA_CodeFamille ON F_FAMILLE (FA_CodeFamille);
CREATE INDEX IFA_INTITULE ON F_FAMILLE (FA_Intitule);
CREATE INDEX IFA_CENTRAL ON F_FAMILLE (FA_Central);
CREATE INDEX IX_F_FAMILLE_cbModification ON F_FAMILLE (cbModification);

CREATE UNIQUE INDEX UKA_F_ARTICLE_AR_Ref ON F_ARTICLE (AR_Ref);
CREATE INDEX IAR_DESIGN ON F_ARTICLE (AR_Design);
CREATE INDEX IAR_FAMILLE ON F_ARTICLE (FA_CodeFamille, AR_Ref);
CREATE INDEX IAR_CBARRE ON F_ARTICLE (AR_CodeBarre);
CREATE INDEX IX_F_ARTICLE_cbModification ON F_ARTICLE (cbModification);

CREATE UNIQUE INDEX UKA_F_ARTCOMPTA ON F_ARTCOMPTA (AR_Ref, ACP_Type, ACP_Champ);

CREATE UNIQUE INDEX UKA_F_DEPOT_DE_No ON F_DEPOT (DE_No);
CREATE INDEX IDE_INTITULE ON F_DEPOT (DE_Intitule);

CREATE UNIQUE INDEX UKA_F_ARTSTOCK ON F_ARTSTOCK (AR_Ref, DE_No);
-- The stock job reads one depot's rows changed since its cursor.
CREATE INDEX IX_F_ARTSTOCK_cbModification ON F_ARTSTOCK (DE_No, cbModification);

CREATE UNIQUE INDEX UKA_F_COMPTET_CT_Num ON F_COMPTET (CT_Num);
CREATE INDEX ICT_INTITULE ON F_COMPTET (CT_Intitule);
CREATE INDEX ICT_TYPE ON F_COMPTET (CT_Type, CT_Num);
CREATE INDEX IX_F_COMPTET_cbModification ON F_COMPTET (cbModification);

CREATE UNIQUE INDEX UKA_F_LIVRAISON_LI_No ON F_LIVRAISON (LI_No);
CREATE INDEX ILI_TIERS ON F_LIVRAISON (CT_Num, LI_Intitule);

CREATE UNIQUE INDEX UKA_F_DOCENTETE ON F_DOCENTETE (DO_Domaine, DO_Type, DO_Piece);
CREATE INDEX IDO_TIERS ON F_DOCENTETE (DO_Domaine, DO_Tiers, DO_Type, DO_Date);
CREATE INDEX IDO_REF ON F_DOCENTETE (DO_Ref);
CREATE INDEX IX_F_DOCENTETE_cbModification ON F_DOCENTETE (cbModification);

CREATE UNIQUE INDEX UKA_F_DOCLIGNE_DL_No ON F_DOCLIGNE (DL_No);
CREATE INDEX IDL_PIECE ON F_DOCLIGNE (DO_Domaine, DO_Type, DO_Piece, DL_Ligne);
CREATE INDEX IDL_ARTICLE ON F_DOCLIGNE (AR_Ref);
CREATE INDEX IX_F_DOCLIGNE_cbModification ON F_DOCLIGNE (cbModification);
