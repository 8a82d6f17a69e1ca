-- CSV imports into WhatsApp contacts (issue 10): the uploaded file in chunks,
-- the import's options and saved cursor, its per-row errors, and the phones it
-- has already seen (to merge duplicates within the file across batches).

CREATE TABLE contact_imports (
    id              uuid PRIMARY KEY,
    -- `uploading` until the whole file is stored and the options checked.
    status          text NOT NULL DEFAULT 'uploading'
                    CHECK (status IN ('uploading', 'queued', 'running', 'completed', 'failed')),
    file_bytes      bigint NOT NULL DEFAULT 0,
    -- CSV column index -> target (`phone`, `name`, `custom_fields.<key>`…), with
    -- the header names, as checked against the header row at upload.
    mapping         jsonb NOT NULL DEFAULT '{}' CHECK (jsonb_typeof(mapping) = 'object'),
    default_country text,
    on_duplicate    text NOT NULL DEFAULT 'update' CHECK (on_duplicate IN ('update', 'skip')),
    label_separator text NOT NULL DEFAULT ';' CHECK (label_separator IN (';', ',')),
    group_id        uuid REFERENCES whatsapp_groups (id) ON DELETE SET NULL,
    dry_run         boolean NOT NULL DEFAULT false,
    -- The cursor: where the row after the last committed one starts, and its number.
    -- A batch advances it in the transaction that writes its rows, so a
    -- resumed import starts exactly after the last committed batch.
    byte_offset     bigint NOT NULL DEFAULT 0,
    next_row        bigint NOT NULL DEFAULT 2,
    rows_done       bigint NOT NULL DEFAULT 0,
    created         bigint NOT NULL DEFAULT 0,
    updated         bigint NOT NULL DEFAULT 0,
    skipped         bigint NOT NULL DEFAULT 0,
    duplicates      bigint NOT NULL DEFAULT 0,
    failed          bigint NOT NULL DEFAULT 0,
    -- Every row error counted; only the first ones kept (see the errors table).
    error_count     bigint NOT NULL DEFAULT 0,
    failure         text,
    created_by      uuid REFERENCES staff (id) ON DELETE SET NULL,
    created_at      timestamptz NOT NULL DEFAULT now(),
    started_at      timestamptz,
    finished_at     timestamptz
);

-- The uploaded file, in order; deleted when the import ends.
CREATE TABLE contact_import_chunks (
    import_id uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    seq       integer NOT NULL,
    data      bytea NOT NULL,
    PRIMARY KEY (import_id, seq)
);

CREATE TABLE contact_import_errors (
    id        bigserial PRIMARY KEY,
    import_id uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    -- The row as a spreadsheet numbers it: the header is row 1.
    row       bigint NOT NULL,
    -- The CSV header of the field at fault; NULL for the row as a whole.
    "column"  text,
    reason    text NOT NULL
);
CREATE INDEX contact_import_errors_import_idx ON contact_import_errors (import_id, id);

-- Phones already imported (or, in a dry run, counted) by the import: a later
-- row with one of them is a duplicate within the file. Deleted when it ends.
CREATE TABLE contact_import_phones (
    import_id        uuid NOT NULL REFERENCES contact_imports (id) ON DELETE CASCADE,
    phone_normalized text NOT NULL,
    PRIMARY KEY (import_id, phone_normalized)
);
