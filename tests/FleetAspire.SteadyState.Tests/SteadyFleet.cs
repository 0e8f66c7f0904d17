using FleetAspire.Data.Migrations;
using FleetAspire.Testing;

namespace FleetAspire.SteadyState.Tests;

/// <summary>
/// The four services on a contracted database: the expand migrations, then the contract set. With the transition
/// compiled in, the stored phase is Contracted too (the services follow it); without it, nothing reads it.
/// </summary>
public sealed class SteadyFleet : FleetAppFixture
{
    protected override async Task PrepareDatabaseAsync(string database)
    {
        await Sql.ExecuteAsync(database,
            "UPDATE migration_phase SET phase = 'Contracted', epoch = epoch + 1, since = now(), changed_by = 'steady-state tests'");
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
