// Migration 7 of PostgreSQL: the per-caller counters every submit reads (MAX_UNFINISHED_JOBS, MAX_CREDITS_PER_DAY),
// kept by a trigger on jobs, so that they change in the same transaction as any write that moves them (insert,
// status change, ERROR with or without a result, discard, or a write added later), and backfilled from the rows
// there are. A job's credits count on the UTC day it was created (day = created_at / 86400000), whenever it ends.
// The expressions are the ones the counts were taken with before (CallerStore.creditsSpent, countUnfinished): the
// counters must give exactly what that SUM and COUNT gave.
//
// Concurrency: the counters are one row per owner (unfinished jobs) and one per owner and day (images), changed by
// `INSERT … ON CONFLICT DO UPDATE` with a delta, which is atomic under READ COMMITTED however many instances submit
// at once. A write always takes its owner's row first and its day's row second, so two transactions on one owner
// queue on the first row and never hold the two in opposite orders; a transaction that changes several owners' jobs
// (endUnsettledSubmits) takes them in owner order. The migration locks jobs against writes (SHARE ROW EXCLUSIVE)
// before it counts, so no write of an instance still running the previous version slips between count and trigger.
// The function runs with the migration's search_path, so that it finds its tables in the store's schema whatever
// the writing session's own search_path is.

const UNFINISHED = (row: string) => `(${row}.status NOT IN ('DONE', 'ERROR', 'CANCELLED'))`;
/**
 * The images a request asks for (1 by default), read from its text: json's operators parse the whole document and
 * refuse one that holds \u0000 (a prompt the upstream may accept, test/job-store.test.ts), which would fail the
 * job's insert. The request is canonical JSON of a strict schema (domain/ai-edit-request.ts), in which this key
 * occurs only in `output`, and a quote inside a string is always escaped, so the pattern finds the key alone.
 */
const requestedImagesSql = (row: string) =>
  `coalesce(substring(${row}.request::text from '"numberOfImages"\\s*:\\s*(\\d+)')::int, 1)`;
/** Images a job costs: what it asked for, nothing when it ended ERROR without a result. */
const IMAGES = (row: string) =>
  `(CASE WHEN ${row}.status = 'ERROR' AND ${row}.result IS NULL THEN 0 ELSE ${requestedImagesSql(row)} END)`;
const DAY = (row: string) => `(${row}.created_at / 86400000)`;

export const POSTGRES_CALLER_COUNTERS_SQL = `
      LOCK TABLE jobs IN SHARE ROW EXCLUSIVE MODE;
      CREATE TABLE caller_job_counts (owner text PRIMARY KEY, unfinished integer NOT NULL);
      CREATE TABLE caller_day_credits (
        owner  text NOT NULL,
        day    bigint NOT NULL,
        images bigint NOT NULL,
        PRIMARY KEY (owner, day)
      );
      INSERT INTO caller_job_counts (owner, unfinished)
        SELECT jobs.owner, count(*) FILTER (WHERE ${UNFINISHED('jobs')}) FROM jobs GROUP BY jobs.owner;
      INSERT INTO caller_day_credits (owner, day, images)
        SELECT jobs.owner, ${DAY('jobs')}, sum(${IMAGES('jobs')}) FROM jobs
         GROUP BY jobs.owner, ${DAY('jobs')} HAVING sum(${IMAGES('jobs')}) <> 0;

      CREATE FUNCTION count_caller_jobs() RETURNS trigger LANGUAGE plpgsql SET search_path FROM CURRENT AS $count$
      DECLARE
        old_unfinished integer := 0;
        new_unfinished integer := 0;
        old_images integer := 0;
        new_images integer := 0;
      BEGIN
        IF TG_OP <> 'INSERT' THEN
          old_unfinished := CASE WHEN ${UNFINISHED('OLD')} THEN 1 ELSE 0 END;
          old_images := ${IMAGES('OLD')};
        END IF;
        IF TG_OP <> 'DELETE' THEN
          new_unfinished := CASE WHEN ${UNFINISHED('NEW')} THEN 1 ELSE 0 END;
          new_images := ${IMAGES('NEW')};
        END IF;
        IF TG_OP = 'UPDATE' AND OLD.owner = NEW.owner AND ${DAY('OLD')} = ${DAY('NEW')} THEN
          IF old_unfinished = new_unfinished AND old_images = new_images THEN
            RETURN NULL;
          END IF;
          -- The owner's row first (even for a zero delta): the lock order every write keeps.
          INSERT INTO caller_job_counts AS c (owner, unfinished) VALUES (NEW.owner, new_unfinished - old_unfinished)
            ON CONFLICT (owner) DO UPDATE SET unfinished = c.unfinished + excluded.unfinished;
          IF old_images <> new_images THEN
            INSERT INTO caller_day_credits AS d (owner, day, images)
              VALUES (NEW.owner, ${DAY('NEW')}, new_images - old_images)
              ON CONFLICT (owner, day) DO UPDATE SET images = d.images + excluded.images;
          END IF;
          RETURN NULL;
        END IF;
        IF TG_OP <> 'INSERT' THEN
          UPDATE caller_job_counts SET unfinished = unfinished - old_unfinished WHERE owner = OLD.owner;
          IF old_images <> 0 THEN
            UPDATE caller_day_credits SET images = images - old_images WHERE owner = OLD.owner AND day = ${DAY('OLD')};
          END IF;
        END IF;
        IF TG_OP <> 'DELETE' THEN
          INSERT INTO caller_job_counts AS c (owner, unfinished) VALUES (NEW.owner, new_unfinished)
            ON CONFLICT (owner) DO UPDATE SET unfinished = c.unfinished + excluded.unfinished;
          IF new_images <> 0 THEN
            INSERT INTO caller_day_credits AS d (owner, day, images) VALUES (NEW.owner, ${DAY('NEW')}, new_images)
              ON CONFLICT (owner, day) DO UPDATE SET images = d.images + excluded.images;
          END IF;
        END IF;
        RETURN NULL;
      END
      $count$;
      CREATE TRIGGER jobs_count_callers
        AFTER INSERT OR DELETE OR UPDATE OF owner, status, result, request, created_at ON jobs
        FOR EACH ROW EXECUTE FUNCTION count_caller_jobs();
`;

// Migration 8: the same trigger, fired when its transaction commits rather than at each write (a constraint trigger,
// DEFERRABLE INITIALLY DEFERRED). Fired at the write, it took the owner's counter row there and held it until the
// commit, across every round trip left in the transaction (the webhook outbox, the COMMIT itself): the jobs of one
// caller finishing at once, on several instances, queued on that one row for as long as each instance took to come
// back to its transaction, which on busy processes was hundreds of milliseconds (bench/README.md, issue 16). At
// commit the row is held only while the commit runs. The counters still change in the same transaction as the write,
// with the same deltas in the same order (a transaction's events fire in the order of its writes, so
// endUnsettledSubmits still takes owners in order), and nothing reads them inside a writing transaction.
export const POSTGRES_CALLER_COUNTERS_AT_COMMIT_SQL = `
      DROP TRIGGER jobs_count_callers ON jobs;
      CREATE CONSTRAINT TRIGGER jobs_count_callers
        AFTER INSERT OR DELETE OR UPDATE OF owner, status, result, request, created_at ON jobs
        DEFERRABLE INITIALLY DEFERRED
        FOR EACH ROW EXECUTE FUNCTION count_caller_jobs();
`;
