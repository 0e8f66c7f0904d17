using System.Diagnostics;
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
        var start = new ProcessStartInfo(Path.Combine(TestPostgres.FindPostgresBin(), "pg_dump"))
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
        };
        foreach (var argument in new[]
                 {
                     "--schema-only", "--no-owner", "--no-privileges", "--exclude-table", "\"__EFMigrationsHistory\"",
                     "-h", csb.Host!, "-p", csb.Port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-U", csb.Username!, csb.Database!,
                 })
        {
            start.ArgumentList.Add(argument);
        }

        if (!string.IsNullOrEmpty(csb.Password))
        {
            start.Environment["PGPASSWORD"] = csb.Password;
        }

        using var dump = Process.Start(start)!;
        var output = dump.StandardOutput.ReadToEndAsync();
        var errors = dump.StandardError.ReadToEndAsync();
        await dump.WaitForExitAsync();
        Assert.True(dump.ExitCode == 0, $"pg_dump failed: {await errors}");
        // pg_dump guards its output with a random \restrict key per run: not part of the schema.
        return string.Join('\n', (await output).Split('\n').Where(line => !line.StartsWith("\\restrict ", StringComparison.Ordinal)
                                                                          && !line.StartsWith("\\unrestrict ", StringComparison.Ordinal)));
    }
}
