using FleetAspire.Data;
using FleetAspire.Data.Migrations;
using FleetAspire.Testing;
using Microsoft.EntityFrameworkCore;
using Npgsql;
using Xunit;

namespace FleetAspire.Transition.Tests;

/// <summary>
/// Two roads to the end state: a fresh database running the steady migrations, and today's database taken through
/// the expand migrations, the contract set and the removal of the transition's control objects. They must meet in the
/// same schema, or the steady migrations describe a database nobody has (ADR 0022).
/// </summary>
public sealed class SteadySchemaTests
{
    [Fact]
    public async Task A_fresh_database_on_the_steady_migrations_has_the_schema_the_contract_leaves()
    {
        var postgres = await TestPostgres.GetAsync();
        var walked = await postgres.CreateDatabaseAsync("schema_walked");
        await ContractedDatabase.ContractAsync(walked);
        await Sql.ExecuteAsync(walked, ContractSql.RemoveTransitionControl);
        var fresh = await postgres.CreateEmptyDatabaseAsync("schema_fresh");
        await using (var db = new FleetDbContext(FleetDbContextOptions.BuildSteady(fresh)))
        {
            await db.Database.MigrateAsync();
        }

        var expected = await SchemaAsync(walked);
        var actual = await SchemaAsync(fresh);

        Assert.Contains("CREATE TABLE public.machines", expected, StringComparison.Ordinal);
        Assert.Equal(expected, actual);
    }

    /// <summary><c>pg_dump --schema-only</c>, the migration history tables left out (they record the road, not the end).</summary>
    private static async Task<string> SchemaAsync(string database)
    {
        var csb = new NpgsqlConnectionStringBuilder(database);
        var dump = await ChildProcesses.RunAsync(Path.Combine(TestPostgres.FindPostgresBin(), "pg_dump"),
            ["--schema-only", "--no-owner", "--no-privileges", "--exclude-table", "\"__EFMigrationsHistory\"",
             "-h", csb.Host!, "-p", csb.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", csb.Username!, csb.Database!],
            string.IsNullOrEmpty(csb.Password) ? null : new Dictionary<string, string> { ["PGPASSWORD"] = csb.Password });
        // pg_dump guards its output with a random \restrict key per run: not part of the schema.
        return string.Join('\n', dump.Split('\n').Where(line => !line.StartsWith("\\restrict ", StringComparison.Ordinal)
                                                                && !line.StartsWith("\\unrestrict ", StringComparison.Ordinal)));
    }
}
