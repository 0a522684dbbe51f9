-- SQLite only: what Sage's TG_CBUPD_<table> triggers do on SQL Server, set cbModification
-- when a row changes. An UPDATE that sets cbModification itself to another value keeps that
-- value (a test can date a change); Sage's own triggers always overwrite it.
--
-- CURRENT_TIMESTAMP is UTC in SQLite, written 'YYYY-MM-DD HH:MM:SS' like the generated rows,
-- so the text comparison `cbModification > :cursor` orders it correctly. Sage writes the SQL
-- Server's local time (GETDATE()).
--
-- SQLite runs no trigger from inside its own UPDATE (recursive_triggers is off by default).

CREATE TRIGGER TG_CBUPD_P_UNITE AFTER UPDATE ON P_UNITE
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE P_UNITE SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_TAXE AFTER UPDATE ON F_TAXE
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_TAXE SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_FAMILLE AFTER UPDATE ON F_FAMILLE
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_FAMILLE SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_ARTICLE AFTER UPDATE ON F_ARTICLE
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_ARTICLE SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_ARTCOMPTA AFTER UPDATE ON F_ARTCOMPTA
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_ARTCOMPTA SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_DEPOT AFTER UPDATE ON F_DEPOT
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_DEPOT SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_ARTSTOCK AFTER UPDATE ON F_ARTSTOCK
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_ARTSTOCK SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_COMPTET AFTER UPDATE ON F_COMPTET
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_COMPTET SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_LIVRAISON AFTER UPDATE ON F_LIVRAISON
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_LIVRAISON SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_DOCENTETE AFTER UPDATE ON F_DOCENTETE
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_DOCENTETE SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;

CREATE TRIGGER TG_CBUPD_F_DOCLIGNE AFTER UPDATE ON F_DOCLIGNE
FOR EACH ROW WHEN NEW.cbModification IS OLD.cbModification
BEGIN
    UPDATE F_DOCLIGNE SET cbModification = CURRENT_TIMESTAMP WHERE cbMarq = NEW.cbMarq;
END;
