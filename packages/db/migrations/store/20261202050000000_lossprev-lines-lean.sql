-- Up Migration

-- Loss prevention's line facts without their primary key (issue 19: where a
-- trends line's microseconds go). The key was (transaction_id, line_number):
-- a random UUID first, so every line booked went into a random leaf of that
-- index, and on a 1,000,000-line catch-up this insert took 13 s of the
-- service's 36 s of booking. It guarded nothing: a transaction's lines are
-- inserted once, in the database transaction whose insert into
-- lossprev_transactions (primary key transaction_id) found it new, and a
-- second copy finds it there and inserts none. What reads the lines by
-- transaction (a return's lines, for refunds after sale) has its own
-- partial index: returns are a few in a hundred lines.
ALTER TABLE lossprev_lines DROP CONSTRAINT lossprev_lines_pkey;
CREATE INDEX lossprev_lines_returns ON lossprev_lines (transaction_id) WHERE type = 'RETURN';

-- Down Migration
DROP INDEX lossprev_lines_returns;
ALTER TABLE lossprev_lines ADD PRIMARY KEY (transaction_id, line_number);
