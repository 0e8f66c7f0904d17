using FleetAspire.Data.Migrations;
using Xunit;

namespace FleetAspire.Testing;

/// <summary>
/// What the contract set leaves behind, checked in the catalog: the same assertions after the live flip (the
/// transition's tests) and on the database the steady-state build runs against.
/// </summary>
public static class ContractedSchema
{
    public static async Task AssertAsync(string database)
    {
        foreach (var column in ContractSql.DroppedAgentColumns)
        {
            Assert.Equal(0, await Sql.ScalarAsync(database,
                "SELECT count(*) FROM information_schema.columns WHERE table_name = 'agents' AND column_name = @c", ("c", column)));
        }

        foreach (var table in ContractSql.DroppedTables)
        {
            Assert.Equal(0, await Sql.ScalarAsync(database, "SELECT count(*) FROM information_schema.tables WHERE table_name = @t", ("t", table)));
        }

        // No change capture left: not a trigger of ours on any table that stays.
        Assert.Equal(0, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM pg_trigger t JOIN pg_class c ON c.oid = t.tgrelid WHERE NOT t.tgisinternal AND c.relname IN ('agents', 'machines', 'machine_snapshots', 'machine_health_checks')"));
        // Snapshots and health checks: strict foreign keys, validated, cascading on machine delete, never null.
        foreach (var table in new[] { "machine_snapshots", "machine_health_checks" })
        {
            Assert.Equal(1, await Sql.ScalarAsync(database,
                "SELECT count(*) FROM pg_constraint WHERE conname = @n AND contype = 'f' AND convalidated AND confdeltype = 'c'",
                ("n", $"fk_{table}_machines_machine_ref")));
            Assert.Equal("NO", await Sql.StringAsync(database,
                "SELECT is_nullable FROM information_schema.columns WHERE table_name = @t AND column_name = 'machine_ref'", ("t", table)));
        }

        Assert.Equal(1, await Sql.ScalarAsync(database, "SELECT count(*) FROM pg_constraint WHERE conname = 'ck_machines_status' AND convalidated"));
        // The relation carries the name of the legacy column it replaced: agents.machine_id is the foreign key now.
        Assert.Equal(1, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM pg_constraint WHERE conname = 'fk_agents_machines_machine_id' AND contype = 'f' AND convalidated AND confdeltype = 'n'"));
        Assert.Equal(0, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM information_schema.columns WHERE table_name = 'agents' AND column_name = 'machine_ref'"));
        // One agent per machine, by an index built concurrently (valid: not an attempt cut short).
        Assert.Equal(1, await Sql.ScalarAsync(database,
            "SELECT count(*) FROM pg_index WHERE indexrelid = to_regclass('ix_agents_machine_id') AND indisunique AND indisvalid"));
    }
}
