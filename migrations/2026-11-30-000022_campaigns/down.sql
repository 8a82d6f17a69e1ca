DROP TABLE campaign_recipients;
DROP TABLE campaign_runs;
DROP TABLE campaigns;
ALTER TABLE numbers DROP COLUMN daily_recipient_limit;
