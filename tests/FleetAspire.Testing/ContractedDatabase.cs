using FleetAspire.Data.Migrations;

namespace FleetAspire.Testing;

/// <summary>
/// A database as the migration leaves it: the expand migrations (the template), then the contract set. The stored
/// phase is Contracted too, so a build with the transition compiled in follows it; the steady build reads no phase.
/// </summary>
public static class ContractedDatabase
{
    public static async Task ContractAsync(string database)
    {
        await Sql.ExecuteAsync(database,
            "UPDATE migration_phase SET phase = 'Contracted', epoch = epoch + 1, since = now(), changed_by = 'tests: contracted database'");
        foreach (var step in ContractSql.Steps)
        {
            if (step.BatchSize > 0)
            {
                // Nothing else writes here: one batch covers every row.
                await Sql.ScalarAsync(database, step.Sql, ("after", string.Empty), ("limit", int.MaxValue));
            }
            else
            {
                await Sql.ExecuteAsync(database, step.Sql);
            }
        }
    }
}
