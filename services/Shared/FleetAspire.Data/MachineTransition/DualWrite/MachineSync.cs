using FleetAspire.Data.MachineTransition.Backfill;
using Npgsql;

namespace FleetAspire.Data.MachineTransition.DualWrite;

/// <summary>
/// The dual-write: before a write transaction commits, every legacy row it changed (as the change log recorded them
/// in this transaction) is written to the Machine model by the backfill's own statements — the same id derivation,
/// the same dirty-row rules (a write to a pre-existing dirty row commits on legacy and is quarantined as a known
/// divergence, never failing the user's request). One round trip: each statement selects its own ids.
/// </summary>
public static class MachineSync
{
    private static string Own(string entity, string idExpression = "entity_id") =>
        $"SELECT {idExpression} FROM legacy_changes WHERE txid = txid_current() AND entity = '{entity}'";

    /// <summary>In order: pool rows, agents, custom machines, child links, then machines whose legacy source went away.</summary>
    private static readonly string[] Statements =
    [
        BackfillSql.ParkedMachines.Replace("{source}", $"id IN ({Own("parked_machines")})", StringComparison.Ordinal),
        BackfillSql.PoolAgents.Replace("{source}", $"id IN ({Own("agents")})", StringComparison.Ordinal),
        BackfillSql.CustomMachines.Replace("{source}", $"id IN ({Own("custom_machines")})", StringComparison.Ordinal),
        BackfillSql.Snapshots.Replace("{source}", $"id IN ({Own("machine_snapshots")})", StringComparison.Ordinal),
        BackfillSql.HealthChecks.Replace("{source}", $"id IN ({Own("machine_health_checks", "entity_id::bigint")})", StringComparison.Ordinal),
        BackfillSql.RemoveVanished.Replace("@legacy_ids", $"""
            ARRAY(SELECT coalesce(old_machine_id, CASE WHEN entity = 'custom_machines' THEN entity_id END)
                  FROM legacy_changes WHERE txid = txid_current() AND (old_machine_id IS NOT NULL OR entity = 'custom_machines'))
            """, StringComparison.Ordinal),
    ];

    /// <summary>Writes this transaction's legacy changes to the Machine model, inside the transaction.</summary>
    public static async Task SyncOwnTransactionAsync(NpgsqlConnection connection, NpgsqlTransaction? transaction, CancellationToken cancellationToken)
    {
        await using var batch = new NpgsqlBatch(connection, transaction);
        foreach (var sql in Statements)
        {
            batch.BatchCommands.Add(new NpgsqlBatchCommand(sql));
        }

        // Prepared: these statements are large, and planning them costs more than running them (measured 4.9 ms
        // planning against 1.6 ms execution for a claim). Once per physical connection, then a lookup.
        await batch.PrepareAsync(cancellationToken);
        await batch.ExecuteNonQueryAsync(cancellationToken);
    }
}
