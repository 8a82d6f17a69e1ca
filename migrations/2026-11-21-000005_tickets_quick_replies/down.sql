DROP TABLE quick_replies;
DROP TABLE tickets;
