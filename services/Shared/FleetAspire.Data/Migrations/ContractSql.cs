namespace FleetAspire.Data.Migrations;

/// <summary>One step of the contract set: applied in its own transaction under <c>lock_timeout = '2s'</c>.</summary>
/// <param name="Locks">Every table lock the step's DDL takes, strongest mode per table (<c>"agents ACCESS EXCLUSIVE"</c>):
/// taken up front, all at once or not at all, so the step never holds one lock while it queues for another.</param>
public sealed record ContractStep(int Position, string Name, string Sql, params string[] Locks);

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

    internal const string DropRollbackModel = """
        ALTER TABLE migration_phase_history DROP CONSTRAINT migration_phase_history_outcome_check,
            ADD CONSTRAINT migration_phase_history_outcome_check CHECK (outcome IN ('flipped', 'refused', 'seeded')) NOT VALID;
        ALTER TABLE migration_phase DROP COLUMN IF EXISTS legacy_model;
        """;

    /// <summary>The legacy columns of <c>agents</c> the contract drops (the relation <c>machine_ref</c> stays: ADR 0014).</summary>
    public static readonly string[] DroppedAgentColumns = ["machine_id", "machine_ipv4", "machine_shared_key", "machine_type"];

    public static readonly string[] DroppedTables = ["parked_machines", "custom_machines", "legacy_changes", "machine_changes"];

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
