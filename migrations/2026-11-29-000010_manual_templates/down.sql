ALTER TABLE templates DROP COLUMN source;
