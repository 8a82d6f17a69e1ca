DROP TABLE contact_import_phones;
DROP TABLE contact_import_errors;
DROP TABLE contact_import_chunks;
DROP TABLE contact_imports;
