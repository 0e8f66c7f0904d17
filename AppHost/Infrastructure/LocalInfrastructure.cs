using System.Diagnostics;
using System.Globalization;
using System.Net;
using System.Net.Sockets;
using System.Security.Cryptography;
using FleetAspire.Names;
using Microsoft.Extensions.Configuration;
using Microsoft.Extensions.DependencyInjection;
using Microsoft.Extensions.Diagnostics.HealthChecks;

namespace FleetAspire.AppHost.Infrastructure;

/// <summary>
/// Local mode: this machine's PostgreSQL and RabbitMQ run as executables under the AppHost (so DCP stops them on
/// Ctrl+C), with data under a git-ignored folder (<c>.fleet/local</c>) and ports on 127.0.0.1 only.
/// </summary>
/// <remarks>
/// Erlang's port mapper (epmd) runs as its own resource on a private port: left to itself, Erlang starts a daemon
/// epmd that outlives the AppHost. PostgreSQL refuses to run as root, so as root it runs as the <c>postgres</c>
/// user through <c>setpriv</c>, which execs it (DCP signals postgres itself, not a wrapper).
/// </remarks>
internal static class LocalInfrastructure
{
    public static FleetInfrastructure Add(IDistributedApplicationBuilder builder)
    {
        var settings = LocalSettings.From(builder);
        var database = AddPostgres(builder, settings);
        var broker = AddRabbitMq(builder, settings);
        return new FleetInfrastructure(InfrastructureMode.Local, database, broker);
    }

    private static IResourceBuilder<IResourceWithConnectionString> AddPostgres(IDistributedApplicationBuilder builder, LocalSettings settings)
    {
        var bin = LocalBinaries.PostgresBinDirectory()!;
        var dataDir = Path.Combine(settings.DataDirectory, "postgres");
        var password = EnsurePostgresCluster(bin, dataDir, settings.DataDirectory);
        var port = settings.PostgresPort.ToString(CultureInfo.InvariantCulture);

        string[] postgresArgs = [Path.Combine(bin, "postgres"), "-D", dataDir, "-p", port, "-h", "127.0.0.1", "-k", dataDir];
        var server = LocalBinaries.RunningAsRoot()
            ? builder.AddExecutable(ResourceNames.Postgres, "setpriv", settings.DataDirectory,
                ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", .. postgresArgs])
            : builder.AddExecutable(ResourceNames.Postgres, postgresArgs[0], settings.DataDirectory, postgresArgs[1..]);

        var passwordParameter = builder.AddParameter("postgres-password", () => password, secret: true);
        var serverConnection = $"Host=127.0.0.1;Port={port};Username=postgres;Password={password};Database=postgres;Timeout=2";
        var healthCheck = $"{ResourceNames.Postgres}-accepts-connections";
        builder.Services.AddHealthChecks().AddAsyncCheck(healthCheck, ct => PostgresAcceptsAsync(serverConnection, ct));
        server.WithHealthCheck(healthCheck);

        // The database itself is created by the migrator (EF creates it when missing).
        var database = builder.AddConnectionString(
            ResourceNames.FleetDatabase,
            ReferenceExpression.Create($"Host=127.0.0.1;Port={port};Username=postgres;Password={passwordParameter.Resource};Database={ResourceNames.FleetDatabase}"));
        // A connection-string resource is healthy at once; make it wait for the server so dependants do too.
        database.WaitFor(server);
        return builder.CreateResourceBuilder<IResourceWithConnectionString>(database.Resource);
    }

    private static IResourceBuilder<IResourceWithConnectionString> AddRabbitMq(IDistributedApplicationBuilder builder, LocalSettings settings)
    {
        var home = Path.Combine(settings.DataDirectory, "rabbitmq");
        Directory.CreateDirectory(home);
        var pluginsFile = Path.Combine(home, "enabled_plugins");
        if (!File.Exists(pluginsFile))
        {
            File.WriteAllText(pluginsFile, "[].\n");
        }

        var epmdPort = settings.EpmdPort.ToString(CultureInfo.InvariantCulture);
        var epmd = builder.AddExecutable(ResourceNames.Epmd, LocalBinaries.Epmd()!, home, "-port", epmdPort, "-address", "127.0.0.1");
        var epmdCheck = $"{ResourceNames.Epmd}-listens";
        builder.Services.AddHealthChecks().AddAsyncCheck(epmdCheck, ct => TcpListensAsync(settings.EpmdPort, ct));
        epmd.WithHealthCheck(epmdCheck);

        var amqpPort = settings.RabbitMqPort;
        var rabbit = builder.AddResource(new LocalRabbitMqResource(ResourceNames.RabbitMq, LocalBinaries.RabbitMqServer, home, amqpPort))
            .WithEnvironment("HOME", home)
            .WithEnvironment("ERL_EPMD_PORT", epmdPort)
            .WithEnvironment("ERL_EPMD_ADDRESS", "127.0.0.1")
            // A stable node name keeps one data directory across runs instead of a new one per run.
            .WithEnvironment("RABBITMQ_NODENAME", "fleet" + amqpPort.ToString(CultureInfo.InvariantCulture) + "@localhost")
            .WithEnvironment("RABBITMQ_NODE_IP_ADDRESS", "127.0.0.1")
            .WithEnvironment("RABBITMQ_NODE_PORT", amqpPort.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("RABBITMQ_DIST_PORT", settings.RabbitMqDistPort.ToString(CultureInfo.InvariantCulture))
            .WithEnvironment("RABBITMQ_MNESIA_BASE", Path.Combine(home, "mnesia"))
            .WithEnvironment("RABBITMQ_LOG_BASE", Path.Combine(home, "log"))
            .WithEnvironment("RABBITMQ_LOGS", "-")
            .WithEnvironment("RABBITMQ_ENABLED_PLUGINS_FILE", pluginsFile)
            .WaitFor(epmd);
        var rabbitCheck = $"{ResourceNames.RabbitMq}-accepts-amqp";
        builder.Services.AddHealthChecks().AddAsyncCheck(rabbitCheck, ct => AmqpAcceptsAsync(amqpPort, ct));
        rabbit.WithHealthCheck(rabbitCheck);
        return builder.CreateResourceBuilder<IResourceWithConnectionString>(rabbit.Resource);
    }

    /// <summary>initdb on first use; returns the superuser password kept beside the data (root-only file).</summary>
    private static string EnsurePostgresCluster(string bin, string dataDir, string root)
    {
        var passwordFile = Path.Combine(root, "postgres.password");
        if (File.Exists(Path.Combine(dataDir, "PG_VERSION")) && File.Exists(passwordFile))
        {
            return File.ReadAllText(passwordFile).Trim();
        }

        if (Directory.Exists(dataDir))
        {
            Directory.Delete(dataDir, recursive: true); // a half-made cluster from an interrupted first run
        }

        Directory.CreateDirectory(dataDir);
        var password = Convert.ToHexString(RandomNumberGenerator.GetBytes(16));
        File.WriteAllText(passwordFile, password);
        if (!OperatingSystem.IsWindows())
        {
            File.SetUnixFileMode(passwordFile, UnixFileMode.UserRead | UnixFileMode.UserWrite);
        }

        // initdb reads the password from a file it can open; the copy lives inside the new cluster's folder briefly.
        var initPasswordFile = Path.Combine(dataDir, "..", "initdb.pw");
        File.WriteAllText(initPasswordFile, password);
        try
        {
            string[] initdb = [Path.Combine(bin, "initdb"), "-D", dataDir, "-U", "postgres", "--auth=scram-sha-256",
                $"--pwfile={initPasswordFile}", "-E", "UTF8", "--no-locale"];
            if (LocalBinaries.RunningAsRoot())
            {
                Run("chown", "-R", "postgres:postgres", dataDir, initPasswordFile);
                Run("setpriv", ["--reuid=postgres", "--regid=postgres", "--init-groups", "--", .. initdb]);
            }
            else
            {
                Run(initdb[0], initdb[1..]);
            }
        }
        finally
        {
            File.Delete(initPasswordFile);
        }

        return password;
    }

    private static void Run(string command, params string[] args)
    {
        var start = new ProcessStartInfo(command) { RedirectStandardOutput = true, RedirectStandardError = true };
        foreach (var arg in args)
        {
            start.ArgumentList.Add(arg);
        }

        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        _ = process.StandardOutput.ReadToEndAsync();
        process.WaitForExit();
        if (process.ExitCode != 0)
        {
            throw new InfrastructureUnavailableException($"`{command} {string.Join(' ', args)}` failed: {stderr.Result}");
        }
    }

    private static async Task<HealthCheckResult> PostgresAcceptsAsync(string connectionString, CancellationToken ct)
    {
        try
        {
            await using var connection = new Npgsql.NpgsqlConnection(connectionString);
            await connection.OpenAsync(ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy(ex.Message);
        }
    }

    private static async Task<HealthCheckResult> TcpListensAsync(int port, CancellationToken ct)
    {
        try
        {
            using var client = new TcpClient();
            await client.ConnectAsync(IPAddress.Loopback, port, ct);
            return HealthCheckResult.Healthy();
        }
        catch (SocketException ex)
        {
            return HealthCheckResult.Unhealthy(ex.Message);
        }
    }

    /// <summary>Ready means a real AMQP handshake succeeds, not just an open port (RabbitMQ listens before it boots).</summary>
    private static async Task<HealthCheckResult> AmqpAcceptsAsync(int port, CancellationToken ct)
    {
        try
        {
            var factory = new RabbitMQ.Client.ConnectionFactory { Uri = new Uri($"amqp://guest:guest@127.0.0.1:{port}/") };
            await using var connection = await factory.CreateConnectionAsync(ct);
            return HealthCheckResult.Healthy();
        }
        catch (Exception ex) when (ex is not OperationCanceledException)
        {
            return HealthCheckResult.Unhealthy(ex.Message);
        }
    }

    /// <summary>Ports and folders of local mode; port 0 means "pick a free one" (tests).</summary>
    private sealed record LocalSettings(string DataDirectory, int PostgresPort, int RabbitMqPort, int RabbitMqDistPort, int EpmdPort)
    {
        public static LocalSettings From(IDistributedApplicationBuilder builder)
        {
            var section = builder.Configuration.GetSection("Infrastructure:Local");
            var repoRoot = Path.GetFullPath(Path.Combine(builder.AppHostDirectory, ".."));
            var dataDirectory = Path.GetFullPath(section["DataDirectory"] ?? Path.Combine(repoRoot, ".fleet", "local"));
            Directory.CreateDirectory(dataDirectory);
            return new LocalSettings(
                dataDirectory,
                Port(section, "PostgresPort", 55432),
                Port(section, "RabbitMqPort", 55672),
                Port(section, "RabbitMqDistPort", 55673),
                Port(section, "EpmdPort", 54369));
        }

        private static int Port(IConfiguration section, string key, int fallback)
        {
            var port = section.GetValue(key, fallback);
            return port != 0 ? port : FreePort();
        }

        private static int FreePort()
        {
            using var listener = new TcpListener(IPAddress.Loopback, 0);
            listener.Start();
            return ((IPEndPoint)listener.LocalEndpoint).Port;
        }
    }
}

/// <summary>RabbitMQ run from this machine's binaries; guest/guest is accepted on loopback only, which is all we bind.</summary>
internal sealed class LocalRabbitMqResource(string name, string command, string workingDirectory, int port)
    : ExecutableResource(name, command, workingDirectory), IResourceWithConnectionString
{
    public ReferenceExpression ConnectionStringExpression { get; } =
        ReferenceExpression.Create($"amqp://guest:guest@127.0.0.1:{port.ToString(CultureInfo.InvariantCulture)}/");
}
