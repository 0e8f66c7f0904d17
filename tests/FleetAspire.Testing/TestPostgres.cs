using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using FleetAspire.Data;
using Microsoft.EntityFrameworkCore;
using Npgsql;

namespace FleetAspire.Testing;

/// <summary>
/// One throwaway PostgreSQL cluster per test process (or the server in <c>FLEET_TEST_POSTGRES</c>), a migrated
/// template database, and a fresh copy of it per test class: <c>CREATE DATABASE … TEMPLATE</c> takes milliseconds.
/// </summary>
public sealed class TestPostgres
{
    public const string ExternalVariable = "FLEET_TEST_POSTGRES";
    private const string TemplateDatabase = "fleet_template";
    private static readonly Lazy<Task<TestPostgres>> Shared = new(StartAsync);
    private static int _databaseCounter;

    private readonly Func<Task<Process>>? _start;

    private TestPostgres(string serverConnectionString, Process? server, string? dataDirectory, Func<Task<Process>>? start = null)
    {
        ServerConnectionString = serverConnectionString;
        Server = server;
        DataDirectory = dataDirectory;
        _start = start;
    }

    /// <summary>Connection string of the maintenance database (<c>postgres</c>).</summary>
    public string ServerConnectionString { get; }
    public Process? Server { get; private set; }
    public string? DataDirectory { get; }

    public static Task<TestPostgres> GetAsync() => Shared.Value;

    /// <summary>A new database with the current schema, named after the test class for readable failures.</summary>
    public Task<string> CreateDatabaseAsync(string hint) => CreateAsync(hint, $"TEMPLATE {TemplateDatabase}");

    /// <summary>An empty database without any schema (for migration tests).</summary>
    public Task<string> CreateEmptyDatabaseAsync(string hint) => CreateAsync(hint, string.Empty);

    private async Task<string> CreateAsync(string hint, string options)
    {
        var name = $"t{Interlocked.Increment(ref _databaseCounter)}_{new string(hint.ToLowerInvariant().Where(char.IsAsciiLetterOrDigit).Take(40).ToArray())}_{Environment.ProcessId}";
        await using var connection = new NpgsqlConnection(ServerConnectionString);
        await connection.OpenAsync();
        await using var command = new NpgsqlCommand($"CREATE DATABASE \"{name}\" {options}", connection);
        await command.ExecuteNonQueryAsync();
        return DatabaseConnectionString(name);
    }

    public string DatabaseConnectionString(string database) =>
        new NpgsqlConnectionStringBuilder(ServerConnectionString) { Database = database }.ConnectionString;

    private static async Task<TestPostgres> StartAsync()
    {
        var external = Environment.GetEnvironmentVariable(ExternalVariable);
        if (!string.IsNullOrWhiteSpace(external))
        {
            var server = new TestPostgres(external, null, null);
            await CreateTemplateAsync(server.ServerConnectionString);
            return server;
        }

        // The template is part of the start: a cluster whose migrations failed is no use to any class.
        return await StartAttempts.RunAsync("PostgreSQL", async () =>
        {
            var postgres = await StartLocalAsync(durable: false, []);
            await CreateTemplateAsync(postgres.ServerConnectionString);
            return postgres;
        });
    }

    /// <summary>
    /// A cluster of its own with production durability (fsync on), for benchmarks whose figures are compared with
    /// floors measured that way.
    /// </summary>
    public static async Task<TestPostgres> StartDedicatedAsync(bool durable, params string[] settings)
    {
        var postgres = await StartLocalAsync(durable, settings);
        await CreateTemplateAsync(postgres.ServerConnectionString);
        return postgres;
    }

    /// <param name="settings">Extra <c>name=value</c> server settings (a benchmark's memory and WAL sizing).</param>
    private static async Task<TestPostgres> StartLocalAsync(bool durable, string[] settings)
    {
        var bin = FindPostgresBin();
        ChildProcesses.SweepStale("fleet-test-pg-");
        var root = Path.Combine(Path.GetTempPath(), $"fleet-test-pg-{Environment.ProcessId}-{Guid.NewGuid():N}");
        var data = Path.Combine(root, "data");
        Directory.CreateDirectory(root);
        var asUser = Environment.UserName == "root" ? "postgres" : null;
        if (asUser is not null)
        {
            await ChildProcesses.RunAsync("chown", ["-R", "postgres:postgres", root]);
        }

        // Trust on 127.0.0.1 is fine for a cluster that lives in /tmp for one test run.
        await ChildProcesses.RunAsync(Path.Combine(bin, "initdb"), ["-D", data, "-U", "postgres", "--auth=trust", "-E", "UTF8", "--no-locale"], runAsUser: asUser);
        var port = FreePort();
        // fsync off for tests: their databases are thrown away. Benchmarks ask for durability, as production runs.
        string[] durability = durable ? [] : ["-c", "fsync=off", "-c", "synchronous_commit=off", "-c", "full_page_writes=off"];
        Task<Process> Start() => ChildProcesses.StartAsync(
            Path.Combine(bin, "postgres"),
            ["-D", data, "-p", port.ToString(System.Globalization.CultureInfo.InvariantCulture), "-h", "127.0.0.1", "-k", data,
             "-c", "max_connections=400", .. durability, .. settings.SelectMany(setting => new[] { "-c", setting })],
            environment: null,
            logFile: Path.Combine(root, "postgres.log"),
            deathSignal: "INT",
            runAsUser: asUser);
        var server = await Start();
        ChildProcesses.DeleteOnExit(root);

        var connectionString = $"Host=127.0.0.1;Port={port};Username=postgres;Database=postgres;Pooling=true;Timeout=5";
        await Eventually.SucceedsAsync(async () =>
        {
            await using var c = new NpgsqlConnection(connectionString);
            await c.OpenAsync();
        }, TimeSpan.FromSeconds(60), "PostgreSQL did not accept connections");
        return new TestPostgres(connectionString, server, data, Start);
    }

    /// <summary>
    /// Stops the cluster (fast shutdown: sessions are cut, as in a failover or a restart for maintenance) and starts it
    /// again on the same port and data. Only for a cluster of this test run's own (<see cref="StartDedicatedAsync"/>).
    /// </summary>
    public async Task RestartAsync(TimeSpan downtime)
    {
        if (_start is null || Server is null)
        {
            throw new InvalidOperationException("Only a cluster started by the tests can be restarted.");
        }

        await ChildProcesses.RunAsync("kill", ["-INT", Server.Id.ToString(System.Globalization.CultureInfo.InvariantCulture)]);
        await Server.WaitForExitAsync();
        await Task.Delay(downtime); // the outage itself, not a wait for anything
        Server = await _start();
        await Eventually.SucceedsAsync(async () =>
        {
            await using var c = new NpgsqlConnection(ServerConnectionString);
            await c.OpenAsync();
        }, TimeSpan.FromSeconds(30), "PostgreSQL did not accept connections after the restart");
    }

    private static async Task CreateTemplateAsync(string serverConnectionString)
    {
        await using (var connection = new NpgsqlConnection(serverConnectionString))
        {
            await connection.OpenAsync();
            await using var drop = new NpgsqlCommand($"DROP DATABASE IF EXISTS {TemplateDatabase} WITH (FORCE)", connection);
            await drop.ExecuteNonQueryAsync();
        }

        var templateConnection = new NpgsqlConnectionStringBuilder(serverConnectionString) { Database = TemplateDatabase, Pooling = false }.ConnectionString;
        // This build's migrations: legacy → expand with the transition compiled in; in the steady build the steady
        // set (ADR 0022), so that code only ever meets the schema it will run on, and a test that still reads a
        // legacy table fails loudly.
        await using (var db = new FleetDbContext(FleetDbContextOptions.Build(templateConnection)))
        {
            await db.Database.MigrateAsync();
        }

        // CREATE DATABASE … TEMPLATE needs the template to have no sessions.
        NpgsqlConnection.ClearAllPools();
    }

    public static string FindPostgresBin()
    {
        var root = "/usr/lib/postgresql";
        var bin = Directory.Exists(root)
            ? Directory.GetDirectories(root).Select(d => Path.Combine(d, "bin")).Where(d => File.Exists(Path.Combine(d, "postgres")))
                .OrderByDescending(d => d, StringComparer.Ordinal).FirstOrDefault()
            : null;
        return bin ?? throw new InvalidOperationException(
            $"No PostgreSQL server binaries under {root}. Install postgresql-15 or set {ExternalVariable} to a server connection string.");
    }

    internal static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
