namespace FleetAspire.Data.Migrations;

/// <summary>
/// SQL objects that exist only for the migration to the Machine model; the contract migrations drop them.
/// </summary>
internal static class MachineTransitionSql
{
    /// <summary>
    /// The one id-derivation function (issue 4): backfill, dual-write and verifier all call it, so a machine gets the
    /// same id whichever path writes it first. A hetzner machine's id derives from its provider id, which it keeps
    /// from the pool to its agent, so the id survives a claim; a custom machine's from <c>custom_machines.id</c>.
    /// </summary>
    public const string IdDerivationFunction = """
        CREATE OR REPLACE FUNCTION fleet_machine_id(machine_type text, legacy_id text) RETURNS text
        -- Not STRICT (a null legacy id gives null anyway): PostgreSQL inlines it, so joins on it use the primary key.
        LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE machine_type
                WHEN 'hetzner' THEN 'mh_' || legacy_id
                WHEN 'custom' THEN 'mc_' || legacy_id
            END
        $$;
        """;

    public const string DropIdDerivationFunction = "DROP FUNCTION IF EXISTS fleet_machine_id(text, text);";

    /// <summary>The advisory lock of the epoch fence: writers take it shared in their transaction, a flip exclusively.</summary>
    public const long FenceLockKey = 0x7068617365000000; // "phase"

    /// <summary>The SQLSTATE <see cref="WriteFenceFunction"/> raises when the phase moved away from the planned epoch.</summary>
    public const string PhaseMovedState = "FP001";

    /// <summary>
    /// The epoch fence as one call, the first statement of every write transaction: it bounds every lock wait of the
    /// transaction (the fence's first of all), takes the phase lock shared, reads the stored phase <em>after</em> the
    /// lock is held — each statement of a volatile function takes a new snapshot, so a flip that committed during the
    /// wait is seen — names the writer for the change log (with "+machine" once Machine is written, so the backfill's
    /// catch-up skips what it changed) and switches the at-commit dual-write on in the phases that write both.
    /// With a planned epoch (a write sent as one batch, whose statements run before anyone can look at the fence's
    /// answer) a moved phase is an error, so nothing after it in the batch runs.
    /// </summary>
    public static readonly string WriteFenceFunction = $$"""
        CREATE OR REPLACE FUNCTION fleet_write_fence(p_writer text, p_lock_timeout text, p_planned_epoch bigint)
        RETURNS TABLE (epoch bigint, txid bigint) LANGUAGE plpgsql VOLATILE AS $$
        DECLARE
            stored record;
        BEGIN
            PERFORM set_config('lock_timeout', p_lock_timeout, true);
            PERFORM pg_advisory_xact_lock_shared({{FenceLockKey}});
            SELECT p.phase, p.epoch INTO stored FROM migration_phase p WHERE p.id = 1;
            IF p_planned_epoch IS NOT NULL AND stored.epoch <> p_planned_epoch THEN
                RAISE EXCEPTION 'the migration phase moved from epoch % to %', p_planned_epoch, stored.epoch
                    USING ERRCODE = '{{PhaseMovedState}}';
            END IF;
            PERFORM set_config('fleet.writer', p_writer || CASE WHEN stored.phase <> 'Legacy' THEN '+machine' ELSE '' END, true);
            PERFORM set_config('fleet.dual_write', CASE WHEN stored.phase IN ('DualWrite', 'MachineRead') THEN 'on' ELSE 'off' END, true);
            RETURN QUERY SELECT stored.epoch, txid_current();
        END
        $$;
        """;

    public const string DropWriteFenceFunction = "DROP FUNCTION IF EXISTS fleet_write_fence(text, text, bigint);";

    /// <summary>
    /// Change capture on the legacy tables: every insert, delete, and update that touches machine data, by this code
    /// or by old code that knows nothing of Machine, lands in <c>legacy_changes</c> in the writing transaction.
    /// New code marks its writes with <c>SET LOCAL fleet.writer = '…'</c>; a row without a writer came from outside
    /// (an old build, hand-written SQL).
    /// </summary>
    public const string ChangeCapture = """
        CREATE TABLE legacy_changes (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            entity text NOT NULL,
            entity_id text NOT NULL,
            op "char" NOT NULL,
            changed_at timestamptz NOT NULL DEFAULT clock_timestamp(),
            txid bigint NOT NULL DEFAULT txid_current(),
            writer text DEFAULT nullif(current_setting('fleet.writer', true), ''),
            -- The legacy machine id the row held before an update or delete: a deleted pool row cannot be looked
            -- up afterwards, and the catch-up must know which Machine it affected.
            old_machine_id text
        );

        CREATE FUNCTION fleet_capture_legacy_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO legacy_changes (entity, entity_id, op, old_machine_id)
            VALUES (TG_TABLE_NAME,
                    CASE WHEN TG_OP = 'DELETE' THEN OLD.id::text ELSE NEW.id::text END,
                    CASE TG_OP WHEN 'INSERT' THEN 'I' WHEN 'UPDATE' THEN 'U' ELSE 'D' END,
                    CASE WHEN TG_OP = 'INSERT' OR TG_TABLE_NAME = 'custom_machines' THEN NULL
                         ELSE to_jsonb(OLD) ->> 'machine_id' END);
            RETURN NULL;
        END
        $$;

        CREATE TRIGGER capture_agents_insert_delete AFTER INSERT OR DELETE ON agents
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_legacy_change();
        -- Agents change for many reasons; only changes to their machine fields matter to the Machine model.
        CREATE TRIGGER capture_agents_machine_update AFTER UPDATE ON agents
            FOR EACH ROW WHEN (OLD.machine_id IS DISTINCT FROM NEW.machine_id
                OR OLD.machine_ipv4 IS DISTINCT FROM NEW.machine_ipv4
                OR OLD.machine_shared_key IS DISTINCT FROM NEW.machine_shared_key
                OR OLD.machine_type IS DISTINCT FROM NEW.machine_type
                OR OLD.user_id IS DISTINCT FROM NEW.user_id)
            EXECUTE FUNCTION fleet_capture_legacy_change();
        CREATE TRIGGER capture_parked_machines AFTER INSERT OR UPDATE OR DELETE ON parked_machines
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_legacy_change();
        CREATE TRIGGER capture_custom_machines AFTER INSERT OR UPDATE OR DELETE ON custom_machines
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_legacy_change();
        CREATE TRIGGER capture_machine_snapshots AFTER INSERT OR UPDATE OR DELETE ON machine_snapshots
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_legacy_change();
        CREATE TRIGGER capture_machine_health_checks AFTER INSERT OR DELETE ON machine_health_checks
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_legacy_change();
        """;

    public const string DropChangeCapture = """
        DROP TRIGGER IF EXISTS capture_agents_insert_delete ON agents;
        DROP TRIGGER IF EXISTS capture_agents_machine_update ON agents;
        DROP TRIGGER IF EXISTS capture_parked_machines ON parked_machines;
        DROP TRIGGER IF EXISTS capture_custom_machines ON custom_machines;
        DROP TRIGGER IF EXISTS capture_machine_snapshots ON machine_snapshots;
        DROP TRIGGER IF EXISTS capture_machine_snapshots_insert_delete ON machine_snapshots;
        DROP TRIGGER IF EXISTS capture_machine_snapshots_machine_update ON machine_snapshots;
        DROP TRIGGER IF EXISTS capture_machine_health_checks ON machine_health_checks;
        DROP FUNCTION IF EXISTS fleet_capture_legacy_change();
        DROP TABLE IF EXISTS legacy_changes;
        """;

    /// <summary>
    /// One checkpoint row per backfill run (cursor per step, counts, the change-log position it catches up from) and
    /// the dirty rows it found. Both are written in the same transaction as the batch they describe.
    /// </summary>
    public const string BackfillState = """
        CREATE TABLE migration_backfill (
            id integer PRIMARY KEY CHECK (id = 1),
            state text NOT NULL,
            step text NOT NULL,
            cursor_id text NOT NULL DEFAULT '',
            -- The catch-up reads the change log in (txid, id) order, only below the snapshot's xmin: every transaction
            -- there has finished, so no row can still appear behind the cursor (ids alone are not commit order).
            change_cursor_txid bigint NOT NULL DEFAULT 0,
            change_cursor_id bigint NOT NULL DEFAULT 0,
            rows_done bigint NOT NULL DEFAULT 0,
            rows_total bigint NOT NULL DEFAULT 0,
            started_at timestamptz,
            updated_at timestamptz NOT NULL DEFAULT now(),
            finished_at timestamptz,
            error text
        );

        CREATE TABLE migration_dirty_rows (
            class text NOT NULL,
            entity text NOT NULL,
            entity_id text NOT NULL,
            detail text NOT NULL,
            first_seen timestamptz NOT NULL DEFAULT now(),
            last_seen timestamptz NOT NULL DEFAULT now(),
            resolved_at timestamptz,
            PRIMARY KEY (class, entity, entity_id)
        );

        CREATE INDEX ix_legacy_changes_txid_id ON legacy_changes (txid, id);

        -- What the verifier found: one row per (entity, id, field, kind), kept across scans so an operator sees when a
        -- divergence appeared and when it went away. Values of secret fields are never stored, only that they differ.
        CREATE TABLE migration_divergences (
            entity text NOT NULL,
            entity_id text NOT NULL,
            field text NOT NULL,
            kind text NOT NULL,
            legacy_value text,
            machine_value text,
            source text NOT NULL,
            first_seen timestamptz NOT NULL DEFAULT now(),
            last_seen timestamptz NOT NULL DEFAULT now(),
            resolved_at timestamptz,
            PRIMARY KEY (entity, entity_id, field, kind)
        );
        CREATE INDEX ix_migration_divergences_open ON migration_divergences (kind, entity) WHERE resolved_at IS NULL;

        -- hmac() for comparing shared keys by keyed fingerprint inside the database.
        CREATE EXTENSION IF NOT EXISTS pgcrypto;

        -- One IPv4 text form for comparisons: trimmed, empty as null, and a dotted quad (leading zeros allowed) in
        -- inet's canonical form. No subquery, so PostgreSQL inlines it into the verifier's scans.
        CREATE FUNCTION fleet_norm_ipv4(value text) RETURNS text LANGUAGE sql IMMUTABLE PARALLEL SAFE AS $$
            SELECT CASE
                WHEN trim(value) ~ '^(0*(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}0*(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])$'
                    THEN host(regexp_replace(trim(value), '(^|\.)0+([0-9])', '\1\2', 'g')::inet)
                ELSE nullif(trim(value), '')
            END
        $$;
        """;

    public const string DropBackfillState =
        "DROP FUNCTION IF EXISTS fleet_norm_ipv4(text); DROP TABLE IF EXISTS migration_divergences; " +
        "DROP TABLE IF EXISTS migration_dirty_rows; DROP TABLE IF EXISTS migration_backfill;";

    /// <summary>
    /// Snapshots change often (status, size) for reasons the Machine model does not care about, and the backfill's own
    /// relation links would double the change log: capture only inserts, deletes and changes of the machine id.
    /// </summary>
    public const string NarrowSnapshotCapture = """
        DROP TRIGGER IF EXISTS capture_machine_snapshots ON machine_snapshots;
        CREATE TRIGGER capture_machine_snapshots_insert_delete AFTER INSERT OR DELETE ON machine_snapshots
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_legacy_change();
        CREATE TRIGGER capture_machine_snapshots_machine_update AFTER UPDATE ON machine_snapshots
            FOR EACH ROW WHEN (OLD.machine_id IS DISTINCT FROM NEW.machine_id)
            EXECUTE FUNCTION fleet_capture_legacy_change();
        """;

    public const string WidenSnapshotCapture = """
        DROP TRIGGER IF EXISTS capture_machine_snapshots_insert_delete ON machine_snapshots;
        DROP TRIGGER IF EXISTS capture_machine_snapshots_machine_update ON machine_snapshots;
        CREATE TRIGGER capture_machine_snapshots AFTER INSERT OR UPDATE OR DELETE ON machine_snapshots
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_legacy_change();
        """;

    /// <summary>
    /// Every verification's summary (full or incremental) and the change-log position it covered: the incremental
    /// verifier starts where the last one stopped, and the operator sees the last result after any restart.
    /// </summary>
    public const string VerificationState = """
        CREATE TABLE migration_verifications (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            mode text NOT NULL CHECK (mode IN ('full', 'incremental')),
            started_at timestamptz NOT NULL,
            finished_at timestamptz NOT NULL,
            changes_checked bigint NOT NULL DEFAULT 0,
            open_total bigint NOT NULL,
            open_by_kind jsonb NOT NULL,
            change_cursor_txid bigint NOT NULL,
            change_cursor_id bigint NOT NULL
        );
        """;

    public const string DropVerificationState = "DROP TABLE IF EXISTS migration_verifications;";

    /// <summary>
    /// The phase every instance runs (one row: the single truth for all replicas), its audit log, and the instances
    /// that run against it. Writers take the phase lock shared and check the epoch; a flip takes it exclusively.
    /// </summary>
    public const string Phases = """
        CREATE TABLE migration_phase (
            id integer PRIMARY KEY CHECK (id = 1),
            phase text NOT NULL CHECK (phase IN ('Legacy', 'DualWrite', 'MachineRead', 'MachineOnly')),
            epoch bigint NOT NULL,
            since timestamptz NOT NULL DEFAULT now(),
            changed_by text NOT NULL
        );
        INSERT INTO migration_phase (id, phase, epoch, changed_by) VALUES (1, 'Legacy', 1, 'expand migration');

        CREATE TABLE migration_phase_history (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            from_phase text NOT NULL,
            to_phase text NOT NULL,
            from_epoch bigint NOT NULL,
            to_epoch bigint,
            outcome text NOT NULL CHECK (outcome IN ('flipped', 'refused', 'seeded')),
            forced boolean NOT NULL DEFAULT false,
            reason text NOT NULL,
            gates jsonb NOT NULL DEFAULT '[]'
        );

        CREATE TABLE migration_instances (
            instance_id text PRIMARY KEY,
            service text NOT NULL,
            build text NOT NULL,
            capabilities text[] NOT NULL,
            epoch bigint NOT NULL,
            -- When the instance first reported the epoch it runs now: gates compare it with backfill and scan times.
            acknowledged_at timestamptz NOT NULL DEFAULT now(),
            started_at timestamptz NOT NULL DEFAULT now(),
            last_seen timestamptz NOT NULL DEFAULT now(),
            expires_at timestamptz NOT NULL
        );
        """;

    public const string DropPhases =
        "DROP TABLE IF EXISTS migration_instances; DROP TABLE IF EXISTS migration_phase_history; DROP TABLE IF EXISTS migration_phase;";

    /// <summary>Open dirty rows by entity and id: every batch resolves its own rows' reports that are clean now.</summary>
    public const string DirtyRowIndex =
        "CREATE INDEX IF NOT EXISTS ix_migration_dirty_rows_open ON migration_dirty_rows (entity, entity_id) WHERE resolved_at IS NULL;";

    public const string DropDirtyRowIndex = "DROP INDEX IF EXISTS ix_migration_dirty_rows_open;";

    /// <summary>
    /// Dirty rows as operators handle them (ADR 0016): <c>quarantined</c> while the data is dirty — open, or accepted by
    /// an operator's recorded resolution — so every comparison leaves it out; keyset paging by class; an audit of bulk
    /// resolutions.
    /// </summary>
    public const string DirtyRowQuarantine = """
        ALTER TABLE migration_dirty_rows ADD COLUMN quarantined boolean NOT NULL DEFAULT true;
        UPDATE migration_dirty_rows SET quarantined = (resolved_at IS NULL OR resolution IS NOT NULL);
        DROP INDEX IF EXISTS ix_migration_dirty_rows_open;
        CREATE INDEX ix_migration_dirty_rows_quarantined ON migration_dirty_rows (entity, entity_id) WHERE quarantined;
        CREATE INDEX ix_migration_dirty_rows_open ON migration_dirty_rows (class, entity, entity_id) WHERE resolved_at IS NULL;
        CREATE TABLE migration_dirty_resolutions (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            filter jsonb NOT NULL,
            resolution text NOT NULL,
            resolved integer NOT NULL
        );
        """;

    public const string DropDirtyRowQuarantine = """
        DROP TABLE IF EXISTS migration_dirty_resolutions;
        DROP INDEX IF EXISTS ix_migration_dirty_rows_open;
        DROP INDEX IF EXISTS ix_migration_dirty_rows_quarantined;
        CREATE INDEX ix_migration_dirty_rows_open ON migration_dirty_rows (entity, entity_id) WHERE resolved_at IS NULL;
        ALTER TABLE migration_dirty_rows DROP COLUMN IF EXISTS quarantined;
        """;
    /// <summary>
    /// The change marker of <c>MachineOnly</c>: while the stored phase is <c>MachineOnly</c>, every insert, update and
    /// delete of a <c>machines</c> row and every change of an agent's relation lands in <c>machine_changes</c> (new code,
    /// old code and hand-written SQL alike), so leaving the phase brings exactly those rows back to legacy (the reverse
    /// sync). In any other phase the triggers do nothing but read the one-row phase table.
    /// </summary>
    public const string MachineChanges = """
        CREATE TABLE machine_changes (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            entity text NOT NULL CHECK (entity IN ('machines', 'agents')),
            entity_id text NOT NULL,
            op char(1) NOT NULL CHECK (op IN ('I', 'U', 'D')),
            -- A deleted machine's legacy identity: the reverse sync removes its legacy source by it.
            machine_type text,
            legacy_id text,
            changed_at timestamptz NOT NULL DEFAULT now(),
            txid bigint NOT NULL DEFAULT txid_current(),
            synced_at timestamptz
        );
        CREATE INDEX ix_machine_changes_pending ON machine_changes (id) WHERE synced_at IS NULL;

        CREATE FUNCTION fleet_capture_machine_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        DECLARE
            row jsonb := CASE WHEN TG_OP = 'DELETE' THEN to_jsonb(OLD) ELSE to_jsonb(NEW) END;
        BEGIN
            IF (SELECT phase FROM migration_phase WHERE id = 1) = 'MachineOnly' THEN
                INSERT INTO machine_changes (entity, entity_id, op, machine_type, legacy_id)
                VALUES (TG_TABLE_NAME, row ->> 'id', left(TG_OP, 1), row ->> 'type', row ->> 'legacy_id');
            END IF;
            RETURN NULL;
        END $$;

        CREATE TRIGGER mark_machines AFTER INSERT OR UPDATE OR DELETE ON machines
            FOR EACH ROW EXECUTE FUNCTION fleet_capture_machine_change();
        CREATE TRIGGER mark_agents_machine_ref AFTER UPDATE ON agents
            FOR EACH ROW WHEN (OLD.machine_ref IS DISTINCT FROM NEW.machine_ref)
            EXECUTE FUNCTION fleet_capture_machine_change();
        """;

    public const string DropMachineChanges = """
        DROP TRIGGER IF EXISTS mark_agents_machine_ref ON agents;
        DROP TRIGGER IF EXISTS mark_machines ON machines;
        DROP FUNCTION IF EXISTS fleet_capture_machine_change();
        DROP TABLE IF EXISTS machine_changes;
        """;

    /// <summary>The audit of applied repairs: who, when, in which phase, and every divergence written and which way.</summary>
    public const string Repairs = """
        CREATE TABLE migration_repairs (
            id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            at timestamptz NOT NULL DEFAULT now(),
            actor text NOT NULL,
            phase text NOT NULL,
            epoch bigint NOT NULL,
            items jsonb NOT NULL
        );
        """;

    public const string DropRepairs = "DROP TABLE IF EXISTS migration_repairs;";

    /// <summary>
    /// Each instance reports when it last ran a legacy code path (a read served from legacy, a write planned for
    /// legacy) and when a write transaction of its last failed: the contract's gate needs neither during the soak.
    /// </summary>
    public const string InstanceUsage = """
        ALTER TABLE migration_instances ADD COLUMN legacy_path_at timestamptz NULL, ADD COLUMN write_error_at timestamptz NULL;
        """;

    public const string DropInstanceUsage =
        "ALTER TABLE migration_instances DROP COLUMN IF EXISTS legacy_path_at, DROP COLUMN IF EXISTS write_error_at;";
}
