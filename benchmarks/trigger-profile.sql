-- Profile of the version trigger's cost inside PostgreSQL (docs/benchmarks.md, "Where the rest comes from").
-- Run against an empty scratch database: psql -d scratch -f benchmarks/trigger-profile.sql
-- The trigger function is the one VersionTriggerDialect (PostgreSQL) creates.
CREATE TABLE plain_rows ("Id" int PRIMARY KEY, "A" text, "Version" bigint NOT NULL DEFAULT 1);
CREATE TABLE trigger_rows ("Id" int PRIMARY KEY, "A" text, "Version" bigint NOT NULL DEFAULT 1);
INSERT INTO plain_rows SELECT g, 'x', 1 FROM generate_series(1,1000) g;
INSERT INTO trigger_rows SELECT g, 'x', 1 FROM generate_series(1,1000) g;
CREATE OR REPLACE FUNCTION "trigger_rows_Version_version"() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN NEW."Version" := OLD."Version" + 1; RETURN NEW; END $$;
CREATE OR REPLACE TRIGGER "trigger_rows_Version_version" BEFORE UPDATE ON trigger_rows FOR EACH ROW EXECUTE FUNCTION "trigger_rows_Version_version"();
VACUUM ANALYZE;
-- warm-up
UPDATE plain_rows SET "A" = 'w', "Version" = "Version" + 1;
UPDATE trigger_rows SET "A" = 'w';
VACUUM;
EXPLAIN (ANALYZE, TIMING, COSTS OFF) UPDATE plain_rows SET "A" = 'y', "Version" = "Version" + 1;
EXPLAIN (ANALYZE, TIMING, COSTS OFF) UPDATE trigger_rows SET "A" = 'y';
VACUUM;
EXPLAIN (ANALYZE, TIMING, COSTS OFF) UPDATE plain_rows SET "A" = 'z', "Version" = "Version" + 1;
EXPLAIN (ANALYZE, TIMING, COSTS OFF) UPDATE trigger_rows SET "A" = 'z';
