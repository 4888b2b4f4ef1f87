// Migration 8 of SQLite: the per-caller counters every submit reads (MAX_UNFINISHED_JOBS, MAX_CREDITS_PER_DAY), kept
// by triggers on jobs, so that they change in the same transaction as any write that moves them (insert, status
// change, ERROR with or without a result, discard, or a write added later), and backfilled from the rows there are.
// A job's credits count on the UTC day it was created (day = created_at / 86400000), whenever it ends.
// The expressions are the ones the counts were taken with before (CallerStore.creditsSpent, countUnfinished):
// the counters must give exactly what that SUM and COUNT gave. The text is what existing databases are migrated
// with (SQLite keeps triggers in sqlite_master): append a new migration rather than edit this one.

const UNFINISHED = (row: string) => `(${row}.status NOT IN ('DONE', 'ERROR', 'CANCELLED'))`;
/** Images a job costs: what it asked for (1 by default), nothing when it ended ERROR without a result. */
const IMAGES = (row: string) =>
  `(CASE WHEN ${row}.status = 'ERROR' AND ${row}.result IS NULL THEN 0
         ELSE coalesce(json_extract(${row}.request, '$.output.numberOfImages'), 1) END)`;
const DAY = (row: string) => `(${row}.created_at / 86400000)`;

/** Adds the row's share; the WHERE makes no row for nothing (and lets SQLite parse the upsert after a SELECT). */
const addShare = (row: string) => `
        INSERT INTO caller_job_counts (owner, unfinished) SELECT ${row}.owner, 1 WHERE ${UNFINISHED(row)}
          ON CONFLICT (owner) DO UPDATE SET unfinished = unfinished + 1;
        INSERT INTO caller_day_credits (owner, day, images)
          SELECT ${row}.owner, ${DAY(row)}, ${IMAGES(row)} WHERE ${IMAGES(row)} <> 0
          ON CONFLICT (owner, day) DO UPDATE SET images = images + excluded.images;`;
/** Takes the row's share away; its counter rows exist, since adding it made them. */
const removeShare = (row: string) => `
        UPDATE caller_job_counts SET unfinished = unfinished - 1 WHERE owner = ${row}.owner AND ${UNFINISHED(row)};
        UPDATE caller_day_credits SET images = images - ${IMAGES(row)}
         WHERE owner = ${row}.owner AND day = ${DAY(row)} AND ${IMAGES(row)} <> 0;`;

export const SQLITE_CALLER_COUNTERS_SQL = `
      CREATE TABLE caller_job_counts (owner TEXT PRIMARY KEY, unfinished INTEGER NOT NULL) WITHOUT ROWID;
      CREATE TABLE caller_day_credits (
        owner  TEXT NOT NULL,
        day    INTEGER NOT NULL,
        images INTEGER NOT NULL,
        PRIMARY KEY (owner, day)
      ) WITHOUT ROWID;
      INSERT INTO caller_job_counts (owner, unfinished)
        SELECT jobs.owner, sum(${UNFINISHED('jobs')}) FROM jobs GROUP BY jobs.owner HAVING sum(${UNFINISHED('jobs')}) > 0;
      INSERT INTO caller_day_credits (owner, day, images)
        SELECT jobs.owner, ${DAY('jobs')}, sum(${IMAGES('jobs')}) FROM jobs
         GROUP BY jobs.owner, ${DAY('jobs')} HAVING sum(${IMAGES('jobs')}) <> 0;
      CREATE TRIGGER jobs_count_insert AFTER INSERT ON jobs BEGIN${addShare('NEW')}
      END;
      CREATE TRIGGER jobs_count_delete AFTER DELETE ON jobs BEGIN${removeShare('OLD')}
      END;
      CREATE TRIGGER jobs_count_update AFTER UPDATE OF owner, status, result, request, created_at ON jobs
        WHEN OLD.owner IS NOT NEW.owner OR ${DAY('OLD')} IS NOT ${DAY('NEW')} OR OLD.request IS NOT NEW.request
          OR ${UNFINISHED('OLD')} IS NOT ${UNFINISHED('NEW')}
          OR (OLD.status = 'ERROR' AND OLD.result IS NULL) IS NOT (NEW.status = 'ERROR' AND NEW.result IS NULL)
      BEGIN${removeShare('OLD')}${addShare('NEW')}
      END;
      -- countUnfinished reads caller_job_counts now: nothing else walks this index, and every write kept it.
      DROP INDEX jobs_owner_unfinished;
`;
