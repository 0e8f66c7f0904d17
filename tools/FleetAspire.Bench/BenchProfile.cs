using System.Globalization;
using FleetAspire.Testing;
using Npgsql;

namespace FleetAspire.Bench;

/// <summary>
/// <c>--profile 1</c>: the benchmark's PostgreSQL records every statement, nested ones (the dual-write function's own)
/// included, and the costliest are printed at the end. <c>--profile 2</c>: also each statement's plan with timings
/// (auto_explain), logged under /tmp/pgprof-log.
/// </summary>
internal static class BenchProfile
{
    public static string[] Settings(BenchOptions options) => options.Int("profile", 0) switch
    {
        1 => ["shared_preload_libraries=pg_stat_statements", "pg_stat_statements.track=all", "pg_stat_statements.track_planning=on"],
        2 => ["shared_preload_libraries=pg_stat_statements,auto_explain", "pg_stat_statements.track=all", "auto_explain.log_min_duration=0",
              "auto_explain.log_analyze=on", "auto_explain.log_nested_statements=on", "auto_explain.log_timing=on", "logging_collector=on",
              "log_directory=/tmp/pgprof-log"],
        _ => [],
    };

    /// <summary>Starts counting now: what ran before (seeding, warm-up) is forgotten.</summary>
    public static Task ResetAsync(string database) =>
        Sql.ExecuteAsync(database, "CREATE EXTENSION IF NOT EXISTS pg_stat_statements; SELECT pg_stat_statements_reset();");

    /// <summary>The statements that cost the most, nested ones included (top level marked), per call and in all.</summary>
    public static async Task PrintAsync(string database)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand("""
            SELECT calls, round(total_exec_time::numeric, 1), round((total_exec_time / nullif(calls, 0))::numeric, 3), toplevel, plans, round(total_plan_time::numeric, 1),
                   left(regexp_replace(query, '\s+', ' ', 'g'), 140)
            FROM pg_stat_statements WHERE dbid = (SELECT oid FROM pg_database WHERE datname = current_database())
            ORDER BY total_exec_time + total_plan_time DESC LIMIT 30
            """, connection);
        await using var reader = await command.ExecuteReaderAsync();
        Console.WriteLine("calls  total_ms  mean_ms  top  plans  plan_ms  statement");
        while (await reader.ReadAsync())
        {
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"{reader.GetInt64(0),6} {reader.GetDecimal(1),9} {(reader.IsDBNull(2) ? 0 : reader.GetDecimal(2)),8} {(reader.GetBoolean(3) ? "top" : "   ")} {reader.GetInt64(4),6} {reader.GetDecimal(5),8}  {reader.GetString(6)}"));
        }
    }
}
