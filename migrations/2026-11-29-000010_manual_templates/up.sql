-- Templates registered by hand, for providers with no template list (TATA):
-- `source` says where a row came from, so a sync never overwrites a manual one.
ALTER TABLE templates
    ADD COLUMN source text NOT NULL DEFAULT 'sync'
        CONSTRAINT templates_source_check CHECK (source IN ('sync', 'manual'));
