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
        LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $$
            SELECT CASE machine_type
                WHEN 'hetzner' THEN 'mh_' || legacy_id
                WHEN 'custom' THEN 'mc_' || legacy_id
            END
        $$;
        """;

    public const string DropIdDerivationFunction = "DROP FUNCTION IF EXISTS fleet_machine_id(text, text);";

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
            writer text DEFAULT nullif(current_setting('fleet.writer', true), '')
        );

        CREATE FUNCTION fleet_capture_legacy_change() RETURNS trigger
        LANGUAGE plpgsql AS $$
        BEGIN
            INSERT INTO legacy_changes (entity, entity_id, op)
            VALUES (TG_TABLE_NAME,
                    CASE WHEN TG_OP = 'DELETE' THEN OLD.id::text ELSE NEW.id::text END,
                    CASE TG_OP WHEN 'INSERT' THEN 'I' WHEN 'UPDATE' THEN 'U' ELSE 'D' END);
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
        DROP TRIGGER IF EXISTS capture_machine_health_checks ON machine_health_checks;
        DROP FUNCTION IF EXISTS fleet_capture_legacy_change();
        DROP TABLE IF EXISTS legacy_changes;
        """;
}
