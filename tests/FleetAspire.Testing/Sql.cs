using System.Globalization;
using Npgsql;

namespace FleetAspire.Testing;

/// <summary>One-off SQL against a test or benchmark database: arrange rows, read back what a test asserts on.</summary>
public static class Sql
{
    /// <summary>Generous enough for seeding a million-agent fleet, finite so a stuck statement fails a test.</summary>
    private const int TimeoutSeconds = 300;

    public static Task ExecuteAsync(string database, string sql) =>
        RunAsync(database, sql, [], command => command.ExecuteNonQueryAsync());

    public static async Task<long> ScalarAsync(string database, string sql, params (string Name, object Value)[] parameters) =>
        Convert.ToInt64(await RunAsync(database, sql, parameters, command => command.ExecuteScalarAsync()), CultureInfo.InvariantCulture);

    /// <summary>The first column of the first row as text; null for no row or SQL NULL.</summary>
    public static async Task<string?> StringAsync(string database, string sql, params (string Name, object Value)[] parameters) =>
        await RunAsync(database, sql, parameters, command => command.ExecuteScalarAsync()) is { } value and not DBNull
            ? Convert.ToString(value, CultureInfo.InvariantCulture)
            : null;

    private static async Task<T> RunAsync<T>(string database, string sql, (string Name, object Value)[] parameters, Func<NpgsqlCommand, Task<T>> run)
    {
        await using var connection = new NpgsqlConnection(database);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand(sql, connection) { CommandTimeout = TimeoutSeconds };
        foreach (var (name, value) in parameters)
        {
            command.Parameters.AddWithValue(name, value);
        }

        return await run(command);
    }
}
