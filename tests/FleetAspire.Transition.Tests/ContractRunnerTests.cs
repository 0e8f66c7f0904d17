using FleetAspire.Data.MachineTransition.Backfill;
using FleetAspire.Data.MachineTransition.Contract;
using FleetAspire.Data.Migrations;
using Npgsql;

namespace FleetAspire.Transition.Tests;

/// <summary>
/// The two contract steps that do not fit one transaction: the relation copied in keyset batches, and the unique index
/// built concurrently — including after an attempt that was cut short and left an invalid index behind.
/// </summary>
public sealed class ContractRunnerTests
{
    private static async Task OweAsync(string database, IEnumerable<ContractStep> steps)
    {
        foreach (var step in steps)
        {
            await Sql.ScalarAsync(database, "INSERT INTO migration_contract_steps (position, name) VALUES (@p, @n) RETURNING position",
                ("p", step.Position), ("n", step.Name));
        }
    }

    [Fact]
    public async Task The_relation_is_copied_in_batches_and_an_index_build_cut_short_is_dropped_and_built_again()
    {
        var database = await (await TestPostgres.GetAsync()).CreateDatabaseAsync("contractrunner");
        await LegacyFleet.SeedAsync(database, 5000, dirty: false);
        await using var source = NpgsqlDataSource.Create(database);
        var backfill = new MachineBackfill(source, new BackfillOptions { BatchSize = 5000, Pause = TimeSpan.Zero });
        await backfill.StartAsync(CancellationToken.None);
        Assert.Equal(BackfillStates.Done, (await backfill.RunAsync(CancellationToken.None)).State);
        var relation = await Sql.StringAsync(database, AgentRelation.FingerprintSql("machine_ref"));
        Assert.DoesNotContain("holding=0:", relation);

        var copy = ContractSql.Steps.Single(s => s.BatchSize > 0);
        var index = ContractSql.Steps.Single(s => s.ConcurrentIndex is not null);
        Assert.True(copy.Position < index.Position);
        Assert.True(await Sql.ScalarAsync(database, "SELECT count(*) FROM agents") > 2 * copy.BatchSize, "too few agents for several batches");
        var runner = new ContractRunner(source, TimeProvider.System);

        // Every step before the index, the copy among them: batch after batch, the relation under its new name.
        await OweAsync(database, ContractSql.Steps.Where(s => s.Position < index.Position));
        await runner.ApplyOwedAsync(TimeSpan.Zero, CancellationToken.None);
        Assert.Equal(relation, await Sql.StringAsync(database, AgentRelation.FingerprintSql("machine_id")));
        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM migration_contract_steps WHERE position = @p AND finished_at IS NOT NULL",
            ("p", copy.Position)));

        // An index build cut short (here: by a duplicate) leaves an invalid index behind, which IF NOT EXISTS would keep.
        await Sql.ExecuteAsync(database, """
            ALTER TABLE agents DISABLE TRIGGER agents_relation_sync;
            UPDATE agents SET machine_id = 'dup' WHERE id IN (SELECT id FROM agents ORDER BY id LIMIT 2);
            ALTER TABLE agents ENABLE TRIGGER agents_relation_sync;
            """);
        var cut = await Assert.ThrowsAsync<PostgresException>(() => Sql.ExecuteAsync(database, index.Sql));
        Assert.Equal(PostgresErrorCodes.UniqueViolation, cut.SqlState);
        const string Invalid = "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('ix_agents_machine_id') AND NOT indisvalid";
        Assert.Equal(1, await Sql.ScalarAsync(database, Invalid));
        await Sql.ExecuteAsync(database, "UPDATE agents SET machine_id = machine_ref WHERE machine_id = 'dup'");

        await OweAsync(database, [index]);
        await runner.ApplyOwedAsync(TimeSpan.Zero, CancellationToken.None);

        Assert.Equal(0, await Sql.ScalarAsync(database, Invalid));
        Assert.Equal(1, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('ix_agents_machine_id') AND indisunique AND indisvalid"));
        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM migration_contract_steps WHERE position = @p AND finished_at IS NOT NULL",
            ("p", index.Position)));
        Assert.Equal(relation, await Sql.StringAsync(database, AgentRelation.FingerprintSql("machine_id")));
    }
}
