namespace FleetAspire.Data.Migrations;

/// <summary>One step of the contract set: applied in its own transaction under <c>lock_timeout = '2s'</c>.</summary>
/// <param name="Locks">Every table lock the step's DDL takes, strongest mode per table (<c>"agents ACCESS EXCLUSIVE"</c>):
/// taken up front, all at once or not at all, so the step never holds one lock while it queues for another.</param>
public sealed record ContractStep(int Position, string Name, string Sql, params string[] Locks)
{
    /// <summary>
    /// The step changes what running instances must map: the next step waits until every live instance runs the
    /// epoch it started, and for the requests already in flight.
    /// </summary>
    public bool Barrier { get; init; }

    /// <summary>
    /// Rows per transaction for a step that rewrites rows rather than the schema (0: the step is one transaction). Its
    /// <see cref="Sql"/> takes <c>@after</c> (the last key done, '' at first) and <c>@limit</c> and returns the rows
    /// it covered and the last key; the step is recorded done with the batch that covers fewer than the limit. Row
    /// locks held for one batch, not for the whole table: writers wait for a batch at most.
    /// </summary>
    public int BatchSize { get; init; }

    /// <summary>
    /// The index a step builds with <c>CREATE INDEX CONCURRENTLY</c> — writers go on meanwhile, but it cannot run in
    /// a transaction: the step runs on its own (one runner at a time), an invalid index left by an attempt cut short is
    /// dropped before the next, and the step is recorded once the index is valid.
    /// </summary>
    public string? ConcurrentIndex { get; init; }
}

/// <summary>
/// The contract (the seed's Phases 3 and 4): its prerequisites, applied by the migrator like any expand migration,
/// and the contract set itself, which only the control service applies, step by step, on the flip to
/// <c>Contracted</c> (docs/adr/0014). It lives beside the migrations, outside <c>MachineTransition/</c>: the day the
/// transition code is deleted, the migration that follows applies the same steps to databases that never ran them.
/// </summary>
/// <remarks>
/// Every step takes at most a brief lock on a busy table: constraints are added <c>NOT VALID</c> (no scan) and
/// validated in a later step (SHARE UPDATE EXCLUSIVE: writers go on); <c>SET NOT NULL</c> follows a validated
/// <c>CHECK (… IS NOT NULL)</c>, which PostgreSQL accepts as proof without scanning again; dropping a column only
/// marks it dropped.
/// </remarks>
public static class ContractSql
{
    /// <summary>What the flip and the contract need to exist before it: the phase, the tombstone status, the step log.</summary>
    internal const string Prerequisites = """
        ALTER TABLE migration_phase DROP CONSTRAINT migration_phase_phase_check,
            ADD CONSTRAINT migration_phase_phase_check CHECK (phase IN ('Legacy', 'DualWrite', 'MachineRead', 'MachineOnly', 'Contracted'));
        -- Wider than the constraint it replaces, so every row satisfies it; validated by the contract set.
        ALTER TABLE machines DROP CONSTRAINT ck_machines_status,
            ADD CONSTRAINT ck_machines_status CHECK (status IN ('launching', 'ready', 'in_use', 'offline', 'destroyed')) NOT VALID;
        ALTER TABLE migration_dirty_rows ADD COLUMN resolution text NULL, ADD COLUMN resolved_by text NULL;
        CREATE TABLE migration_contract_steps (
            position integer PRIMARY KEY,
            name text NOT NULL UNIQUE,
            started_at timestamptz NULL,
            finished_at timestamptz NULL,
            attempts integer NOT NULL DEFAULT 0,
            last_error text NULL
        );
        """;

    internal const string DropPrerequisites = """
        DROP TABLE IF EXISTS migration_contract_steps;
        ALTER TABLE migration_dirty_rows DROP COLUMN IF EXISTS resolution, DROP COLUMN IF EXISTS resolved_by;
        ALTER TABLE machines DROP CONSTRAINT ck_machines_status,
            ADD CONSTRAINT ck_machines_status CHECK (status IN ('launching', 'ready', 'in_use', 'offline')) NOT VALID;
        ALTER TABLE migration_phase DROP CONSTRAINT migration_phase_phase_check,
            ADD CONSTRAINT migration_phase_phase_check CHECK (phase IN ('Legacy', 'DualWrite', 'MachineRead', 'MachineOnly'));
        """;

    /// <summary>
    /// Leaving MachineOnly in two steps: first every instance maps the legacy model again (a flag on the stored phase,
    /// audited as <c>prepared</c>), then the flip (docs/adr/0014).
    /// </summary>
    internal const string RollbackModel = """
        ALTER TABLE migration_phase ADD COLUMN legacy_model boolean NOT NULL DEFAULT false;
        ALTER TABLE migration_phase_history DROP CONSTRAINT migration_phase_history_outcome_check,
            ADD CONSTRAINT migration_phase_history_outcome_check CHECK (outcome IN ('flipped', 'refused', 'seeded', 'prepared'));
        """;

    /// <summary>The contract renames the relation column under running instances: the flag that tells them when.</summary>
    internal const string RelationRename = "ALTER TABLE migration_phase ADD COLUMN relation_renamed boolean NOT NULL DEFAULT false;";

    internal const string DropRelationRename = "ALTER TABLE migration_phase DROP COLUMN IF EXISTS relation_renamed;";

    internal const string DropRollbackModel = """
        ALTER TABLE migration_phase_history DROP CONSTRAINT migration_phase_history_outcome_check,
            ADD CONSTRAINT migration_phase_history_outcome_check CHECK (outcome IN ('flipped', 'refused', 'seeded')) NOT VALID;
        ALTER TABLE migration_phase DROP COLUMN IF EXISTS legacy_model;
        """;

    /// <summary>
    /// The columns of <c>agents</c> gone after the contract: the legacy copies, and the expand phase's name of the
    /// relation — which is <c>agents.machine_id</c> now, the name of the legacy column it replaced (ADR 0014).
    /// </summary>
    public static readonly string[] DroppedAgentColumns = ["machine_ipv4", "machine_shared_key", "machine_type", "machine_ref"];

    public static readonly string[] DroppedTables = ["parked_machines", "custom_machines", "legacy_changes", "machine_changes"];

    /// <summary>
    /// What is left of the migration once the contract set has run and the transition code is gone: its control
    /// tables and functions, and the defaults the legacy migration gave two snapshot columns so existing rows could be
    /// filled (the steady model sets both on every insert). The migration written that day runs it
    /// (docs/removing-the-transition.md); after it the schema is the steady migrations' (ADR 0022).
    /// </summary>
    public const string RemoveTransitionControl = """
        DROP FUNCTION IF EXISTS fleet_write_fence(text, text, bigint);
        DROP FUNCTION IF EXISTS fleet_norm_ipv4(text);
        DROP TABLE IF EXISTS migration_backfill, migration_contract_steps, migration_dirty_resolutions, migration_dirty_rows,
            migration_divergences, migration_instances, migration_phase_history, migration_phase, migration_repairs,
            migration_verifications;
        ALTER TABLE machine_snapshots ALTER COLUMN is_final DROP DEFAULT, ALTER COLUMN user_id DROP DEFAULT;
        """;

    private const string AccessExclusive = "ACCESS EXCLUSIVE";

    /// <summary>
    /// The contract set, in order. Names are recorded in <c>migration_contract_steps</c> and shown to operators. Each
    /// step touches the fewest tables it can: a step that locked several busy tables one after another could hold one
    /// while queueing for the next behind a writer that holds the next and wants the first — a deadlock.
    /// </summary>
    public static readonly IReadOnlyList<ContractStep> Steps =
    [
        new(1, "drop-change-capture-agents", """
            DROP TRIGGER IF EXISTS capture_agents_insert_delete ON agents;
            DROP TRIGGER IF EXISTS capture_agents_machine_update ON agents;
            DROP TRIGGER IF EXISTS mark_agents_machine_ref ON agents;
            """, $"agents {AccessExclusive}"),
        new(2, "drop-change-capture-machines", "DROP TRIGGER IF EXISTS mark_machines ON machines;", $"machines {AccessExclusive}"),
        new(3, "drop-change-capture-snapshots", """
            DROP TRIGGER IF EXISTS capture_machine_snapshots ON machine_snapshots;
            DROP TRIGGER IF EXISTS capture_machine_snapshots_insert_delete ON machine_snapshots;
            DROP TRIGGER IF EXISTS capture_machine_snapshots_machine_update ON machine_snapshots;
            """, $"machine_snapshots {AccessExclusive}"),
        new(4, "drop-change-capture-health-checks", "DROP TRIGGER IF EXISTS capture_machine_health_checks ON machine_health_checks;",
            $"machine_health_checks {AccessExclusive}"),
        // Nothing running writes these any more: the steady-state model does not map them.
        new(5, "drop-change-capture", """
            DROP TRIGGER IF EXISTS capture_parked_machines ON parked_machines;
            DROP TRIGGER IF EXISTS capture_custom_machines ON custom_machines;
            DROP TRIGGER IF EXISTS dual_write_at_commit ON legacy_changes;
            DROP FUNCTION IF EXISTS fleet_dual_write_at_commit();
            DROP FUNCTION IF EXISTS fleet_sync_own_transaction();
            DROP FUNCTION IF EXISTS fleet_capture_legacy_change();
            DROP FUNCTION IF EXISTS fleet_capture_machine_change();
            DROP TABLE IF EXISTS legacy_changes;
            DROP TABLE IF EXISTS machine_changes;
            """, $"parked_machines {AccessExclusive}", $"custom_machines {AccessExclusive}", $"legacy_changes {AccessExclusive}",
            $"machine_changes {AccessExclusive}"),
        new(6, "drop-agent-legacy-columns", """
            ALTER TABLE agents DROP COLUMN IF EXISTS machine_id, DROP COLUMN IF EXISTS machine_ipv4,
                DROP COLUMN IF EXISTS machine_shared_key, DROP COLUMN IF EXISTS machine_type;
            """, $"agents {AccessExclusive}"),
        new(7, "drop-legacy-tables", "DROP TABLE IF EXISTS parked_machines; DROP TABLE IF EXISTS custom_machines;",
            $"parked_machines {AccessExclusive}", $"custom_machines {AccessExclusive}"),
        new(8, "validate-machine-status", "ALTER TABLE machines VALIDATE CONSTRAINT ck_machines_status;", "machines SHARE UPDATE EXCLUSIVE"),
        .. StrictRelation(9, "machine_snapshots"),
        .. StrictRelation(14, "machine_health_checks"),
        .. RenameRelation(19),
    ];

    /// <summary>
    /// The relation takes the name of the legacy column it replaced, under running instances — its own expand and
    /// contract: a second column kept equal by a trigger, copied, indexed and constrained; the barrier after which
    /// every instance maps the new name; then the old name dropped.
    /// </summary>
    private static ContractStep[] RenameRelation(int position) =>
    [
        new(position, "agents-relation-column-add", """
            ALTER TABLE agents ADD COLUMN IF NOT EXISTS machine_id varchar(80) NULL;
            CREATE OR REPLACE FUNCTION fleet_agents_relation_sync() RETURNS trigger LANGUAGE plpgsql AS $$
            BEGIN
                -- Instances on either name write one of the two: the other follows.
                IF TG_OP = 'INSERT' THEN
                    NEW.machine_id := coalesce(NEW.machine_id, NEW.machine_ref);
                    NEW.machine_ref := coalesce(NEW.machine_ref, NEW.machine_id);
                ELSIF NEW.machine_ref IS DISTINCT FROM OLD.machine_ref THEN
                    NEW.machine_id := NEW.machine_ref;
                ELSIF NEW.machine_id IS DISTINCT FROM OLD.machine_id THEN
                    NEW.machine_ref := NEW.machine_id;
                END IF;
                RETURN NEW;
            END $$;
            CREATE TRIGGER agents_relation_sync BEFORE INSERT OR UPDATE ON agents
                FOR EACH ROW EXECUTE FUNCTION fleet_agents_relation_sync();
            """, $"agents {AccessExclusive}"),
        // Keyset batches in key order; rows behind the cursor stay in step by the trigger above.
        new(position + 1, "agents-relation-column-copy", """
            WITH batch AS (SELECT id FROM agents WHERE id > @after ORDER BY id LIMIT @limit),
                 copied AS (UPDATE agents a SET machine_id = a.machine_ref FROM batch b
                            WHERE a.id = b.id AND a.machine_id IS DISTINCT FROM a.machine_ref)
            SELECT count(*), max(id) FROM batch;
            """) { BatchSize = 2000 },
        new(position + 2, "agents-relation-column-unique",
            "CREATE UNIQUE INDEX CONCURRENTLY IF NOT EXISTS ix_agents_machine_id ON agents (machine_id);") { ConcurrentIndex = "ix_agents_machine_id" },
        new(position + 3, "agents-relation-column-foreign-key", """
            ALTER TABLE agents ADD CONSTRAINT fk_agents_machines_machine_id
                FOREIGN KEY (machine_id) REFERENCES machines (id) ON DELETE SET NULL NOT VALID;
            """, "agents SHARE ROW EXCLUSIVE", "machines SHARE ROW EXCLUSIVE"),
        new(position + 4, "agents-relation-column-foreign-key-validate",
            "ALTER TABLE agents VALIDATE CONSTRAINT fk_agents_machines_machine_id;", "agents SHARE UPDATE EXCLUSIVE", "machines ROW SHARE"),
        new(position + 5, "agents-relation-column-switch", """
            UPDATE migration_phase SET relation_renamed = true, epoch = epoch + 1, changed_by = 'contract';
            INSERT INTO migration_phase_history (actor, from_phase, to_phase, from_epoch, to_epoch, outcome, reason)
            SELECT 'contract', phase, phase, epoch - 1, epoch, 'prepared', 'the relation is agents.machine_id from this epoch'
            FROM migration_phase;
            NOTIFY fleet_phase;
            """) { Barrier = true },
        new(position + 6, "agents-relation-column-drop-old", """
            DROP TRIGGER IF EXISTS agents_relation_sync ON agents;
            DROP FUNCTION IF EXISTS fleet_agents_relation_sync();
            ALTER TABLE agents DROP COLUMN IF EXISTS machine_ref;
            """, $"agents {AccessExclusive}", $"machines {AccessExclusive}"), // dropping the column's foreign key drops its triggers on machines
    ];

    /// <summary>
    /// A child's <c>machine_ref</c> becomes a required foreign key that cascades on machine delete (the seed's Phase 4;
    /// a machine with children is only ever tombstoned by the services, so the cascade runs when a tombstone goes).
    /// </summary>
    private static ContractStep[] StrictRelation(int position, string table) =>
    [
        new(position, $"{table}-foreign-key", $"""
            ALTER TABLE {table} ADD CONSTRAINT fk_{table}_machines_machine_ref
                FOREIGN KEY (machine_ref) REFERENCES machines (id) ON DELETE CASCADE NOT VALID;
            """, $"{table} SHARE ROW EXCLUSIVE", "machines SHARE ROW EXCLUSIVE"),
        new(position + 1, $"{table}-foreign-key-validate", $"ALTER TABLE {table} VALIDATE CONSTRAINT fk_{table}_machines_machine_ref;",
            $"{table} SHARE UPDATE EXCLUSIVE", "machines ROW SHARE"),
        new(position + 2, $"{table}-not-null-check",
            $"ALTER TABLE {table} ADD CONSTRAINT ck_{table}_machine_ref_not_null CHECK (machine_ref IS NOT NULL) NOT VALID;",
            $"{table} {AccessExclusive}"),
        new(position + 3, $"{table}-not-null-check-validate", $"ALTER TABLE {table} VALIDATE CONSTRAINT ck_{table}_machine_ref_not_null;",
            $"{table} SHARE UPDATE EXCLUSIVE"),
        new(position + 4, $"{table}-not-null", $"""
            ALTER TABLE {table} ALTER COLUMN machine_ref SET NOT NULL;
            ALTER TABLE {table} DROP CONSTRAINT ck_{table}_machine_ref_not_null;
            """, $"{table} {AccessExclusive}"),
    ];
}
